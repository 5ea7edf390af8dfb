"""The ``retold eval`` subcommands: ``pan``, ``pairs`` and ``paraphrase``.

:mod:`retold.cli` parses the arguments and dispatches here (``run_pan(args)``, ``run_pairs(args)``,
``run_paraphrase(args)``). Each handler calls the Python API of :mod:`retold.eval`, prints a rich
table on stdout (or JSON with ``--json``) and returns the exit status, 0. Progress bars go to
stderr and are hidden when stderr is not a terminal or with ``--quiet``. Bad input raises
:class:`~retold.errors.InputError`, which the CLI turns into exit status 2.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from retold.errors import ConfigError, InputError

__all__ = ["run_pairs", "run_pan", "run_paraphrase"]


def _console(args: argparse.Namespace, stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(
        file=sys.stderr if stderr else sys.stdout,
        no_color=getattr(args, "no_color", False),
        soft_wrap=False,
        highlight=False,
    )


def _print_json(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


# --------------------------------------------------------------------------- pan


def _semantic_detector(suspicious: str, source: str, settings: Any) -> Any:
    """Top-level (picklable) detector that loads the encoder in the worker process."""
    from retold.encoders import get_encoder
    from retold.passages import detect_passages

    return detect_passages(suspicious, source, settings, get_encoder(settings.encoder))


def pan_detector(encoder: str | None) -> Callable[[str, str], Any]:
    """The PAN detector: lexical by default, with semantic seeds when an encoder is named."""
    from retold.passages import PassageSettings, detect_passages

    if not encoder or encoder == "none":
        return detect_passages
    return functools.partial(
        _semantic_detector, settings=PassageSettings(use_semantic=True, encoder=encoder)
    )


def _progress(args: argparse.Namespace) -> Any:
    """A rich progress bar on stderr, disabled when quiet or not a terminal."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    console = _console(args, stderr=True)
    return Progress(
        TextColumn("PAN pairs"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=bool(getattr(args, "quiet", False)) or not console.is_terminal,
    )


def pan_table(report: Any, title: str) -> Any:
    """The per-category rich table of a :class:`~retold.eval.pan.PanReport`."""
    from rich.table import Table

    table = Table(title=title)
    for name in ("category", "pairs", "cases", "detections", "precision", "recall", "granularity",
                 "plagdet", "flagged", "CPU ms/pair"):
        table.add_column(name, justify="left" if name == "category" else "right")
    for row in report.table():
        table.add_row(
            row["category"],
            str(row["pairs"]),
            str(row["cases"]),
            str(row["detections"]),
            f"{row['precision']:.3f}",
            f"{row['recall']:.3f}",
            f"{row['granularity']:.3f}",
            f"{row['plagdet']:.3f}",
            str(row["flagged"]),
            f"{row['cpu_ms']:.1f}",
        )
    return table


def run_pan(args: argparse.Namespace) -> int:
    """``retold eval pan CORPUS``: plagdet overall and per category of the passage detector."""
    from retold.eval.pan import evaluate_pan

    corpus = Path(args.corpus)
    if not corpus.is_dir() or not (corpus / "src").is_dir() or not (corpus / "susp").is_dir():
        raise InputError(str(corpus), "not a PAN corpus folder: expected src/, susp/ and pairs")
    if args.jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {args.jobs}")
    if args.sample is not None and args.sample < 1:
        raise ConfigError(f"--sample must be at least 1, got {args.sample}")
    detector = pan_detector(getattr(args, "encoder", None))
    with _progress(args) as progress:
        task = progress.add_task("pan", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = evaluate_pan(
            corpus, args.out, detector, jobs=args.jobs, sample=args.sample, seed=args.seed,
            progress=advance,
        )
    if args.json:
        _print_json({**report.to_dict(), "table": report.table()})
        return 0
    if not getattr(args, "quiet", False):
        console = _console(args)
        pairs = f"{report.overall.pairs} pairs" + (f", sample seed {report.seed}" if report.sample else "")
        console.print(pan_table(report, f"PAN 2013 text alignment ({pairs})"))
        console.print(
            f"no-plagiarism pairs flagged: {report.no_plagiarism_flagged}/{report.no_plagiarism_pairs}"
            f"   detections written to {report.out_dir}   {report.wall_s:.1f} s"
        )
    return 0


# --------------------------------------------------------------------------- pairs


def run_pairs(args: argparse.Namespace) -> int:
    """``retold eval pairs CSV``: derived-or-not accuracy of ``retold.compare`` on labelled pairs."""
    from retold.eval.pairs import evaluate_pairs

    csv_path = Path(args.csv)
    if not csv_path.is_file():
        raise InputError(str(csv_path), "file not found")
    import retold
    from retold.compare import Settings

    settings = Settings()
    if getattr(args, "encoder", None):
        settings = settings.with_encoder(args.encoder)

    def judge(a: str, b: str) -> float:
        return float(retold.compare(a, b, settings).verdict.probability)

    result = evaluate_pairs(csv_path, judge)
    result = {"schema_version": "1.0", "kind": "pairs", "csv": str(csv_path), **result}
    if args.json:
        _print_json(result)
        return 0
    if not getattr(args, "quiet", False):
        from rich.table import Table

        table = Table(title=f"Derived-or-not on {csv_path.name}")
        table.add_column("measure")
        table.add_column("value", justify="right")
        for key in ("pairs", "positives", "threshold", "precision", "recall", "f1", "accuracy",
                    "roc_auc", "ece", "seconds_per_pair"):
            value = result.get(key)
            text = "n/a" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value))
            table.add_row(key, text)
        _console(args).print(table)
    return 0


# --------------------------------------------------------------------------- paraphrase

MRPC_FILE = "msr_paraphrase_train.txt"
STS_FILE = "sts-dev.csv"


def _encoder_similarity(name: str) -> Callable[[list[str], list[str]], Any]:
    import numpy as np

    from retold.encoders import get_encoder

    encoder = get_encoder(name)
    if encoder is None:
        raise ConfigError("the paraphrase evaluation needs a sentence encoder, not 'none'")

    def similarity(list_a: list[str], list_b: list[str]) -> Any:
        va = np.asarray(encoder.encode(list(list_a)))
        vb = np.asarray(encoder.encode(list(list_b)))
        return np.einsum("ij,ij->i", va, vb).astype(np.float32)

    similarity.__qualname__ = f"encoder[{name}]"
    return similarity


def paraphrase_paths(data: str | Path) -> tuple[Path, Path]:
    """The MRPC and STS-B files of a paraphrase data folder.

    Raises:
        InputError: the folder or one of the files is missing.
    """
    folder = Path(data)
    if not folder.is_dir():
        raise InputError(str(folder), "not a paraphrase data folder: expected MRPC and STS-B files")
    paths = folder / MRPC_FILE, folder / STS_FILE
    for path in paths:
        if not path.is_file():
            raise InputError(str(path), "file not found")
    return paths


def run_paraphrase(args: argparse.Namespace) -> int:
    """``retold eval paraphrase``: MRPC accuracy/F1 and STS-B correlation of the encoder or the aligner's score."""
    from retold.eval.paraphrase import evaluate_paraphrase, sentence_scorer, use_similarity

    mrpc, sts = paraphrase_paths(args.data)
    encoder = getattr(args, "encoder", None)
    similarity = use_similarity if not encoder or encoder == "use-m3" else _encoder_similarity(encoder)
    if getattr(args, "scorer", "encoder") == "aligner":
        similarity = sentence_scorer(similarity)
    result = evaluate_paraphrase(similarity, mrpc, sts)
    if args.json:
        _print_json(result)
        return 0
    if not getattr(args, "quiet", False):
        from rich.table import Table

        table = Table(title=f"Paraphrase benchmarks ({result['similarity']})")
        table.add_column("benchmark")
        table.add_column("measure")
        table.add_column("value", justify="right")
        for bench in ("mrpc", "sts"):
            for key, value in result[bench].items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    table.add_row(bench, key, f"{value:.3f}" if isinstance(value, float) else str(value))
        _console(args).print(table)
    return 0
