"""The ``retold index`` and ``retold trace`` commands: parse, call the Python API, render.

::

    retold index add STORE INPUT... [--batch-size N] [--workers N] [--strict] [--quiet]
    retold index stats STORE [--json]
    retold trace STORE ARTICLE [--limit N] [--compare-top N] [--escalate auto|never|always] [--max-semantic N]
                 [--json] [--html FILE]
    retold scan STORE [--out DIR] [--json] [--limit-candidates N] [--duplicate-jaccard J] [--escalate MODE] [--restart] [--quiet]
    retold scan --engine spark INPUT... --out DIR [--master URL] [--checkpoints URI] [--until STAGE] ...

``index add`` creates the store when it does not exist and shows a progress bar on stderr (rate
and ETA) when stderr is a terminal and ``--quiet`` is not given. Errors (a missing store, a store
locked by another writer, unreadable input) surface as :class:`~retold.errors.RetoldError` and are
turned into one line on stderr by :func:`retold.cli.main`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["add_parsers"]


def add_parsers(commands: Any) -> None:
    """Register ``index`` (with ``add`` and ``stats``) and ``trace`` on the CLI's subparsers."""
    index = commands.add_parser("index", help="build and inspect a store of articles",
                                description="Build and inspect a store of articles (SQLite + faiss).")
    index_commands = index.add_subparsers(dest="index_command", required=True, metavar="ACTION")

    add = index_commands.add_parser(
        "add", help="add articles to a store (created if missing); re-running resumes",
        description="Add articles to a store, creating it if missing. Articles already in the store "
        "(same text) are skipped, so re-running an interrupted add resumes it.",
    )
    add.add_argument("store", help="the store directory")
    add.add_argument("inputs", nargs="+", metavar="INPUT",
                     help="files, folders, glob patterns, .jsonl or .warc(.gz) files, or - for stdin")
    add.add_argument("--batch-size", type=_positive_int, default=256, metavar="N",
                     help="documents per transaction (default 256)")
    add.add_argument("--workers", type=_positive_int, metavar="N",
                     help="feature processes (default: one per CPU, at most 8)")
    add.add_argument("--strict", action="store_true", help="stop at the first malformed input instead of skipping it")
    add.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bar or summary")
    add.set_defaults(handler=cmd_index_add)

    stats = index_commands.add_parser("stats", help="counts and sizes of a store")
    stats.add_argument("store", help="the store directory")
    stats.add_argument("--json", action="store_true", help="print the statistics as JSON")
    stats.set_defaults(handler=cmd_index_stats)

    trace = commands.add_parser(
        "trace", help="find the articles in a store that an article was rewritten from",
        description="Retrieve candidate sources of an article from a store, compare each with it and "
        "rank them: sources first, then articles rewritten from it.",
    )
    trace.add_argument("store", help="the store directory")
    trace.add_argument("article", help="the article: .txt, .md, .html, .json, or - for stdin")
    trace.add_argument("--limit", type=_positive_int, default=10, metavar="N",
                       help="candidates to retrieve and compare (default 10)")
    trace.add_argument("--compare-top", type=_non_negative_int, default=3, metavar="N",
                       help="sources that keep their full comparison in --json/--html (default 3)")
    output = trace.add_argument_group("output")
    output.add_argument("--json", action="store_true", help="print the result as JSON (schema trace-1)")
    output.add_argument("--html", metavar="FILE", help="write a self-contained HTML page with the full reports")
    trace.add_argument("--escalate", choices=("auto", "never", "always"), default="auto",
                       help="which candidates get the full semantic compare: auto (the derived, uncertain "
                       "and likely paraphrased ones, at most --max-semantic; default), never (lexical only), "
                       "always (every candidate, slowest)")
    trace.add_argument("--max-semantic", type=_non_negative_int, default=3, metavar="N",
                       help="with --escalate auto, at most N semantic compares (default 3)")
    trace.add_argument("--encoder", help="sentence encoder for the comparisons: use-m3 (default), none, ...")
    trace.set_defaults(handler=cmd_trace)

    scan = commands.add_parser(
        "scan", help="find every derivation in a store (or, on Spark, in input files): edges and clusters",
        description="Judge every candidate pair once and export the derivation edges and clusters. "
        "--engine local (default) scans one STORE built by 'retold index add'; its judgements are kept in "
        "the store, so re-running an interrupted scan resumes it. --engine spark reads INPUT files (or a "
        "Parquet of documents) on Spark and needs --out; its stage checkpoints in OUT/tmp make a re-run "
        "resume. Both write the same edge and pair tables.",
    )
    scan.add_argument("paths", nargs="+", metavar="STORE|INPUT",
                      help="local: the store directory; spark: files, folders, globs or *.parquet of documents")
    scan.add_argument("--engine", choices=("local", "spark"), default="local",
                      help="local: a store on this machine (default); spark: input files on a Spark cluster")
    scan.add_argument("--out", metavar="DIR", help="write edges.{jsonl,csv,parquet}, clusters.json, graph.html "
                      "(and, local only, compares/) into DIR; required with --engine spark")
    scan.add_argument("--json", action="store_true", help="print clusters and edges as JSON")
    scan.add_argument("--limit-candidates", type=_positive_int, default=10, metavar="N",
                      help="candidates retrieved per document (default 10)")
    scan.add_argument("--duplicate-jaccard", type=float, default=0.9, metavar="J",
                      help="near-duplicates (estimated shingle Jaccard >= J) are judged against their earliest "
                      "copy only (default 0.9; above 1: judge every candidate pair)")
    scan.add_argument("--escalate", choices=("auto", "never", "always"), default="auto",
                      help="when to run the full semantic compare: auto (uncertain pairs), never, always")
    scan.add_argument("--encoder", help="sentence encoder of the semantic tier: use-m3 (default), none, ...")
    scan.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                      help="no progress bar or summary")
    local = scan.add_argument_group("local engine only")
    local.add_argument("--workers", type=_positive_int, metavar="N",
                       help="processes (default: one per CPU, at most 8)")
    local.add_argument("--restart", action="store_true", help="forget earlier judgements and scan from scratch")
    local.add_argument("--no-compares", action="store_true", help="with --out, skip the compare pages")
    from .spark import add_spark_options

    add_spark_options(scan.add_argument_group("spark engine only"))
    scan.set_defaults(handler=cmd_scan)


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return number


def _non_negative_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return number


def _iter_inputs(inputs: list[str], strict: bool, report: Any) -> Iterator[Any]:
    from .ingest.batch import iter_documents

    return iter_documents(inputs, strict=strict, report=report)


def _count_hint(inputs: list[str]) -> int | None:
    """How many documents the inputs hold, when cheap to know (plain files and JSONL); else None."""
    total = 0
    for item in inputs:
        path = Path(item)
        if item == "-" or not path.is_file():
            return None
        name = path.name.lower()
        if name.endswith(".jsonl"):
            with path.open("rb") as handle:
                total += sum(1 for line in handle if line.strip())
        elif name.endswith((".warc", ".gz", ".arc")):
            return None
        else:
            total += 1
    return total


def cmd_index_add(args: argparse.Namespace) -> int:
    from .index import AddReport, Index
    from .ingest.batch import IngestReport

    quiet = bool(getattr(args, "quiet", False))
    show_bar = not quiet and sys.stderr.isatty()
    ingest_report = IngestReport()
    documents = _iter_inputs(args.inputs, args.strict, ingest_report)
    with Index.open(args.store, writable=True, create=True) as index:
        if show_bar:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            progress = Progress(
                TextColumn("indexing"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]} docs/s"), TimeElapsedColumn(), TextColumn("ETA"),
                TimeRemainingColumn(), console=Console(stderr=True), transient=False,
            )
            with progress:
                task = progress.add_task("index", total=_count_hint(args.inputs), rate="-")

                def update(report: AddReport) -> None:
                    progress.update(task, completed=report.seen, rate=f"{report.docs_per_s:,.0f}")

                report = index.add(documents, batch_size=args.batch_size, progress=update, workers=args.workers)
                progress.update(task, completed=report.seen)
        else:
            report = index.add(documents, batch_size=args.batch_size, workers=args.workers)
        total = index.count()
    if not quiet:
        print(f"retold: {report.summary()} The store holds {total:,} documents.", file=sys.stderr)
        if ingest_report.error_count or sum(ingest_report.skipped.values()):
            print(f"retold: {ingest_report.summary()}", file=sys.stderr)
    return 1 if ingest_report.error_count and not report.seen else 0


def cmd_index_stats(args: argparse.Namespace) -> int:
    from .index import Index

    with Index.open(args.store) as index:
        stats = index.stats()
    if args.json:
        sys.stdout.write(json.dumps(stats, indent=2) + "\n")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"retold store {stats['path']}", show_header=False)
    for key in ("documents", "paragraphs", "sentences", "terms", "postings", "embeddings", "text_chars"):
        table.add_row(key.replace("_", " "), f"{stats[key]:,}")
    for name, size in stats["files"].items():
        table.add_row(name, f"{size / 1e6:,.1f} MB")
    table.add_row("bytes per document", f"{stats['bytes_per_document']:,}")
    table.add_row("settings", ", ".join(f"{k}={v}" for k, v in stats["settings"].items()))
    Console(no_color=getattr(args, "no_color", False), highlight=False).print(table)
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    from .compare import Settings
    from .index import Index
    from .ingest import load
    from .trace import TraceSettings, trace

    article = load(args.article if args.article == "-" else Path(args.article))
    settings = Settings().with_encoder(args.encoder) if args.encoder else Settings()
    with Index.open(args.store) as index:
        tiers = TraceSettings(escalate=args.escalate, max_semantic=args.max_semantic)
        result = trace(index, article, limit=args.limit, compare_top=args.compare_top, settings=settings,
                       trace_settings=tiers)
    from .cli import write_outputs

    write_outputs(result, args, lambda: _render_trace(result, args))
    return 0


_LOCAL_ONLY = {"workers": "--workers", "restart": "--restart", "no_compares": "--no-compares"}


def _check_scan_args(args: argparse.Namespace) -> None:
    """Refuse options that do not fit the engine, with one line (exit 2)."""
    from .errors import ConfigError
    from .spark import SPARK_OPTIONS

    if args.engine == "local":
        given = [f"--{name.replace('_', '-')}" for name in SPARK_OPTIONS if getattr(args, name) is not None]
        if given:
            raise ConfigError(f"{', '.join(given)}: only with --engine spark")
        if len(args.paths) != 1:
            raise ConfigError(f"--engine local scans one STORE, got {len(args.paths)} paths; build a store with "
                              "'retold index add STORE INPUT...' first, or use --engine spark INPUT... --out DIR")
        return
    given = [flag for name, flag in _LOCAL_ONLY.items() if getattr(args, name)]
    if given:
        raise ConfigError(f"{', '.join(given)}: only with --engine local")
    if not args.out:
        raise ConfigError("--engine spark needs --out DIR (the exports and the stage checkpoints go there)")
    if args.json and args.until:
        raise ConfigError("--json needs the whole scan; it cannot be combined with --until")
    for path in args.paths:
        if (Path(path) / "store.sqlite").is_file():
            raise ConfigError(f"{path}: is a store; the Spark engine reads articles (text, HTML, JSONL, WARC or "
                              "*.parquet), scan a store with --engine local")


def cmd_scan(args: argparse.Namespace) -> int:
    _check_scan_args(args)
    if args.engine == "spark":
        return _scan_spark(args)
    from .compare import Settings
    from .index import Index
    from .scan import ScanProgress, ScanSettings, scan

    quiet = bool(getattr(args, "quiet", False))
    show_bar = not quiet and sys.stderr.isatty()
    settings = Settings().with_encoder(args.encoder) if args.encoder else Settings()
    scan_settings = ScanSettings(limit_candidates=args.limit_candidates, escalate=args.escalate,
                                 duplicate_jaccard=args.duplicate_jaccard, workers=args.workers)
    with Index.open(args.paths[0], writable=True) as index:
        if show_bar:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            bar = Progress(TextColumn("scanning"), BarColumn(), MofNCompleteColumn(),
                           TextColumn("{task.fields[pairs]} pairs, {task.fields[edges]} edges"),
                           TimeElapsedColumn(), console=Console(stderr=True))
            with bar:
                task = bar.add_task("scan", total=index.count(), pairs=0, edges=0)

                def update(p: ScanProgress) -> None:
                    bar.update(task, completed=p.documents_done, pairs=f"{p.pairs_judged:,}",
                               edges=f"{p.edges_found:,}")

                result = scan(index, settings, progress=update, scan_settings=scan_settings, restart=args.restart)
        else:
            result = scan(index, settings, scan_settings=scan_settings, restart=args.restart)
    if args.out:
        result.write(args.out, compares=not args.no_compares)
    if args.json:
        sys.stdout.write(result.to_json() + "\n")
    if not quiet:
        print(f"retold: {result.stats.summary()}", file=sys.stderr)
        if args.out:
            print(f"retold: wrote {args.out}/graph.html, the edge tables and pairs.parquet", file=sys.stderr)
    return 0


def _scan_spark(args: argparse.Namespace) -> int:
    """``retold scan --engine spark``: :func:`retold.engines.spark.run_spark` through the shared options."""
    from .spark import run_from_args

    quiet = bool(getattr(args, "quiet", False))
    path = run_from_args(args.paths, args)
    out = Path(args.out)
    if args.until:
        if not quiet:
            print(f"retold: stopped after {args.until}: {path}", file=sys.stderr)
        return 0
    if args.json:
        sys.stdout.write((out / "clusters.json").read_text(encoding="utf-8"))
    if not quiet:
        stats = json.loads((out / "spark_stats.json").read_text(encoding="utf-8"))
        resumed = f" ({', '.join(stats['skipped'])} from checkpoints)" if stats["skipped"] else ""
        print(f"retold: Scanned {stats['documents']:,} documents on Spark: {stats['pairs']:,} pairs judged "
              f"({stats['pairs_escalated']:,} semantically), {stats['edges']:,} edges, {stats['clusters']:,} "
              f"clusters in {sum(stats['stage_s'].values()):.1f} s{resumed}.", file=sys.stderr)
        print(f"retold: wrote {out}/graph.html, the edge tables and pairs.parquet", file=sys.stderr)
    return 0


def _render_trace(result: Any, args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(no_color=getattr(args, "no_color", False), highlight=False, soft_wrap=False)
    article = result.article
    console.print(f"[bold]{article.title or article.name}[/bold]  ({result.candidates_considered} candidates compared"
                  f"{'; the article itself is in the store' if result.in_store else ''})")
    if not result.sources:
        console.print("No candidate sources in the store.")
        return
    table = Table()
    for column in ("#", "document", "relation", "type", "p", "cov. article", "cov. candidate", "found by"):
        table.add_column(column)
    labels = {"source": "[bold red]source[/]", "derivative": "[yellow]rewritten from it[/]", "unrelated": "not derived"}
    for s in result.sources:
        name = s.document.title or s.document.name
        table.add_row(
            str(s.rank), f"{name}\n[dim]{s.doc_id}[/dim]", labels[s.relation], s.verdict.type,
            f"{s.verdict.probability:.2f}", f"{s.coverage_article:.0%}", f"{s.coverage_candidate:.0%}",
            ", ".join(s.candidate.found_by),
        )
    console.print(table)
