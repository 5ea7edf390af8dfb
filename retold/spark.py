"""``python -m retold.spark`` (or ``spark-submit retold/spark.py``): scan a corpus on Spark.

Usage::

    python -m retold.spark news/ feeds/*.jsonl --out out/ --master 'local[8]'
    spark-submit --master yarn ... retold/spark.py hdfs:///corpus/docs.parquet --out out/ \\
        --checkpoints hdfs:///tmp/retold-run

Exit status: 0 done, 2 bad input or usage, 1 unexpected failure (traceback with ``-v``).
See ``docs/spark.md``. This module only parses arguments; the work is
:func:`retold.engines.spark.run_spark`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

STAGE_NAMES = ("documents", "features", "pairs", "judgements", "edges")
SPARK_OPTIONS = ("master", "checkpoints", "until", "vector", "max_bucket_docs", "judge_pairs_per_partition",
                 "shuffle_partitions")
"""The ``args`` attributes of the Spark-only options (``retold scan`` refuses them with ``--engine local``)."""


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return number


def add_spark_options(group: argparse._ArgumentGroup) -> None:
    """The Spark-only options, shared by ``python -m retold.spark`` and ``retold scan --engine spark``.

    Every default is ``None`` (resolved by :func:`run_from_args`), so a caller can tell which
    ones were given.
    """
    group.add_argument("--master", default=None,
                       help="Spark master (default: the one spark-submit was given, else local[2])")
    group.add_argument("--checkpoints", metavar="URI", help="stage checkpoints here instead of OUT/tmp")
    group.add_argument("--until", choices=STAGE_NAMES, help="stop after this stage")
    group.add_argument("--vector", choices=("broadcast", "off"), default=None,
                       help="lead-vector neighbours: broadcast the matrix (default) or off")
    group.add_argument("--max-bucket-docs", type=_positive_int, default=None, metavar="N",
                       help="LSH buckets above N members pair each member with the next N only (default 200)")
    group.add_argument("--judge-pairs-per-partition", type=_positive_int, default=None, metavar="N",
                       help="pairs per judging task (default 32)")
    group.add_argument("--shuffle-partitions", type=_positive_int, default=None, metavar="N",
                       help="spark.sql.shuffle.partitions (default: 4 x cores on local[...])")


def run_from_args(inputs: Sequence[str], args: argparse.Namespace) -> Path:
    """Build the settings from parsed options (:func:`add_spark_options` plus ``out``, ``encoder``,
    ``escalate``, ``limit_candidates``) and call :func:`retold.engines.spark.run_spark`."""
    from dataclasses import replace

    from retold.compare import Settings
    from retold.engines.spark import SparkSettings, run_spark
    from retold.retrieve import RetrieveSettings
    from retold.scan import ScanSettings

    settings = Settings()
    retrieve = RetrieveSettings()
    if args.encoder is not None:
        settings = settings.with_encoder(args.encoder)
        retrieve = replace(retrieve, encoder=args.encoder)
    master = args.master
    if master is None and "PYSPARK_GATEWAY_PORT" not in os.environ:  # not under spark-submit
        master = "local[2]"
    defaults = SparkSettings()
    plumbing = SparkSettings(
        vector=args.vector or defaults.vector,
        max_bucket_docs=args.max_bucket_docs or defaults.max_bucket_docs,
        judge_pairs_per_partition=args.judge_pairs_per_partition or defaults.judge_pairs_per_partition,
        shuffle_partitions=args.shuffle_partitions,
    )
    return run_spark(
        inputs, args.out, master=master, until=args.until, settings=settings, retrieve_settings=retrieve,
        scan_settings=ScanSettings(escalate=args.escalate, limit_candidates=args.limit_candidates,
                                   duplicate_jaccard=args.duplicate_jaccard),
        spark_settings=plumbing, checkpoint_dir=args.checkpoints,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m retold.spark",
        description="Find every derivation in a corpus on Spark: edges.parquet/.jsonl/.csv, pairs.parquet, clusters.json.",
    )
    group = parser.add_argument_group("input and output")
    group.add_argument("inputs", nargs="+", metavar="INPUT",
                       help="files, folders, glob patterns (text, HTML, JSONL, WARC) or *.parquet of documents")
    group.add_argument("--out", required=True, metavar="DIR", help="output folder (checkpoints in DIR/tmp)")
    add_spark_options(parser.add_argument_group("spark"))
    judging = parser.add_argument_group("judging")
    judging.add_argument("--encoder", default=None, help="sentence encoder (default use-m3; 'none': lexical only)")
    judging.add_argument("--escalate", choices=("auto", "never", "always"), default="auto")
    judging.add_argument("--limit-candidates", type=_positive_int, default=10, metavar="N")
    judging.add_argument("--duplicate-jaccard", type=float, default=0.9, metavar="J",
                         help="near-duplicates (estimated shingle Jaccard >= J) are judged against their earliest "
                         "copy only (default 0.9; above 1: every candidate pair)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="-v: info and tracebacks, -vv: debug")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING - 10 * min(args.verbose, 2), stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    from retold.errors import ConfigError, InputError, RetoldError

    try:
        path = run_from_args(args.inputs, args)
    except (InputError, ConfigError) as exc:
        print(f"retold.spark: error: {exc}", file=sys.stderr)
        return 2
    except RetoldError as exc:
        print(f"retold.spark: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # the CLI boundary
        if args.verbose:
            raise
        print(f"retold.spark: error: {type(exc).__name__}: {exc} (run with -v for the traceback)", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
