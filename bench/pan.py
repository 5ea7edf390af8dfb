"""Accuracy benchmarks: PAN 2013 text alignment and the paraphrase sets (MRPC, STS-B).

``run(full=True)`` scores the passage detector on all 5,185 pairs of the PAN 2013 training corpus
(two worker processes) and the sentence encoder on MRPC and STS-B, and writes
``bench/results/pan13.json`` and ``bench/results/paraphrase.json``. ``run(full=False)`` scores a
stratified sample of 500 PAN pairs instead (a quick check). ``python -m bench.run`` calls it.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results"


def _write(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def run_pan(full: bool = True, jobs: int = 2) -> dict[str, Any]:
    """Score :func:`retold.passages.detect_passages` on PAN 2013 and write ``pan13.json``."""
    from retold.eval.pan import evaluate_pan
    from retold.passages import PassageSettings, detect_passages

    with tempfile.TemporaryDirectory(prefix="retold-pan-") as out:
        report = evaluate_pan(
            DATA / "pan13-train", out, detect_passages, jobs=jobs, sample=None if full else 500, seed=1
        )
    result = {
        **report.to_dict(),
        "table": report.table(),
        "settings": {k: v for k, v in vars(PassageSettings()).items()},
    }
    result["out_dir"] = None  # a temporary folder, gone by now
    _write("pan13.json", result)
    return result


def run_paraphrase() -> dict[str, Any]:
    """Score the default sentence encoder, and the aligner's sentence score built on it, on MRPC and
    STS-B and write ``paraphrase.json`` (the latter under ``"sentence_scorer"``)."""
    from retold.eval.cli import paraphrase_paths
    from retold.eval.paraphrase import evaluate_paraphrase, sentence_scorer, use_similarity

    mrpc, sts = paraphrase_paths(DATA / "paraphrase")
    result = evaluate_paraphrase(use_similarity, mrpc, sts)
    result["sentence_scorer"] = evaluate_paraphrase(sentence_scorer(use_similarity), mrpc, sts)
    _write("paraphrase.json", result)
    return result


def run(full: bool = True) -> dict[str, Any]:
    """Both benchmarks; returns ``{"pan13": ..., "paraphrase": ...}``."""
    return {"pan13": run_pan(full), "paraphrase": run_paraphrase()}


if __name__ == "__main__":
    summary = run()
    for row in summary["pan13"]["table"]:
        print(
            f"{row['category']:28s} plagdet={row['plagdet']:.3f} P={row['precision']:.3f} "
            f"R={row['recall']:.3f} gran={row['granularity']:.3f} cpu={row['cpu_ms']:.1f}ms"
        )
