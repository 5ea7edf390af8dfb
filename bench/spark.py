"""Spark engine benchmark: wall time of ``run_spark`` against the local engine on one corpus.

The corpus is :func:`bench.collections.build_corpus` (BBC and Reuters news, PAN 2013 pairs, seeded
rewrites), written once as JSON Lines so both engines ingest the same file. The local engine is
``Index.add`` plus :func:`retold.scan.scan` (a process per CPU); the Spark engine is
:func:`retold.engines.spark.run_spark` on ``local[<CPUs>]`` from an empty output folder. Spark's
session start (a JVM, ~20 s on a loaded 2-core machine) is reported apart from the run.

Also reported, for the cost estimate in ``docs/spark.md``: core-seconds per document of the
features stage and per judged pair of the judgements stage, and whether both engines found the
same edge set.

Both engines' judged pairs are compared too (by document id), and the edges' scores: the issue's
acceptance is the identical edge set with equal scores.

``python -m bench.spark [SIZE]`` (default 10,000 documents, the "Collections" 10k corpus; ``make
bench`` runs it through ``bench.run``) adds its numbers under ``sizes.<SIZE>`` in
``bench/results/spark.json``. The 10k run takes about half an hour on 2 cores.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DEFAULT_SIZE = 10000


def _write_corpus(size: int, folder: Path) -> tuple[Path, int]:
    from bench.collections import build_corpus

    documents, _ = build_corpus(size)
    path = folder / "corpus.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for doc in documents:
            record = {"id": doc.id, "title": doc.title, "published": doc.published, "url": doc.url,
                      "site": doc.site, "author": doc.author, "text": doc.text}
            out.write(json.dumps({k: v for k, v in record.items() if v is not None}, ensure_ascii=False) + "\n")
    return path, len(documents)


def _local(corpus: Path, folder: Path) -> dict[str, Any]:
    from retold.index import Index
    from retold.ingest.batch import iter_documents
    from retold.scan import scan

    started = time.perf_counter()
    with Index.open(folder / "store", writable=True, create=True) as index:
        index.add(iter_documents([corpus]))
        indexed = time.perf_counter()
        result = scan(index)
        done = time.perf_counter()
        judged = {tuple(sorted(pair)) for pair in index.db.execute(
            "SELECT a.doc_id, b.doc_id FROM results r JOIN documents a ON a.key = r.doc_a "
            "JOIN documents b ON b.key = r.doc_b")}
    return {
        "index_s": round(indexed - started, 1), "scan_s": round(done - indexed, 1), "total_s": round(done - started, 1),
        "pairs": result.stats.pairs_total, "pairs_escalated": result.stats.pairs_escalated,
        "edges": {(e.derivative, e.source): e.row() for e in result.edges}, "judged": judged,
    }


def _spark(corpus: Path, folder: Path, cores: int) -> dict[str, Any]:
    import pyarrow.parquet as pq

    from retold.engines.spark import SparkSettings, _session, run_spark

    started = time.perf_counter()
    session = _session(f"local[{cores}]", SparkSettings())
    session.range(1).count()  # the JVM and a first task
    ready = time.perf_counter()
    try:
        path = run_spark([corpus], folder / "out", spark=session)
    finally:
        session.stop()
    done = time.perf_counter()
    stats = json.loads((folder / "out" / "spark_stats.json").read_text(encoding="utf-8"))
    edges = {(r["derivative"], r["source"]): r for r in pq.read_table(path).to_pylist()}
    tmp = folder / "out" / "tmp"
    ids = dict(zip(*pq.read_table(tmp / "documents.parquet", columns=["ordinal", "id"]).to_pydict().values()))
    pairs = pq.read_table(tmp / "pairs.parquet", columns=["doc_a", "doc_b"]).to_pydict()
    judged = {tuple(sorted((ids[a], ids[b]))) for a, b in zip(pairs["doc_a"], pairs["doc_b"])}
    return {"session_s": round(ready - started, 1), "run_s": round(done - ready, 1),
            "total_s": round(done - started, 1), "stats": stats, "edges": edges, "judged": judged}


def _max_score_difference(local: dict[Any, dict[str, Any]], spark: dict[Any, dict[str, Any]]) -> float:
    columns = ("probability", "coverage_derivative", "coverage_source", "direction_confidence")
    return max((abs(local[k][c] - spark[k][c]) for k in local.keys() & spark.keys() for c in columns), default=0.0)


def run(size: int = DEFAULT_SIZE) -> dict[str, Any]:
    """Run both engines on a ``size``-document corpus and record it in ``bench/results/spark.json``."""
    cores = os.cpu_count() or 1
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="retold-bench-spark-") as tmp:
        folder = Path(tmp)
        corpus, n_docs = _write_corpus(size, folder)
        local = _local(corpus, folder)
        load_between = os.getloadavg()[0]
        spark = _spark(corpus, folder, cores)
    stats = spark["stats"]
    local_edges, spark_edges = set(local["edges"]), set(spark["edges"])
    stage_s = stats["stage_s"]
    out: dict[str, Any] = {
        "corpus_documents": n_docs,
        "documents_after_dedupe": stats["documents"],
        "cpus": cores,
        "load_average_1m": [round(load_before, 1), round(load_between, 1), round(os.getloadavg()[0], 1)],
        "local": {k: v for k, v in local.items() if k not in ("edges", "judged")},
        "spark": {k: v for k, v in spark.items() if k not in ("edges", "stats", "judged")} | {"stage_s": stage_s,
                                                                               "pairs": stats["pairs"],
                                                                               "pairs_escalated": stats["pairs_escalated"],
                                                                               "lsh_buckets_capped": stats["lsh_buckets_capped"]},
        "same_edges": local_edges == spark_edges,
        "edges_local": len(local_edges),
        "edges_spark": len(spark_edges),
        "edges_only_local": sorted(map(list, local_edges - spark_edges))[:10],
        "edges_only_spark": sorted(map(list, spark_edges - local_edges))[:10],
        "edges_max_score_difference": round(_max_score_difference(local["edges"], spark["edges"]), 6),
        "same_pairs": local["judged"] == spark["judged"],
        "pairs_only_local": len(local["judged"] - spark["judged"]),
        "pairs_only_spark": len(spark["judged"] - local["judged"]),
        "overhead_run": round(spark["run_s"] / local["total_s"], 2),
        "overhead_with_session": round(spark["total_s"] / local["total_s"], 2),
        "core_s_per_document_features": round(stage_s["features"] * cores / max(1, stats["documents"]), 4),
        "core_s_per_pair_judged": round(stage_s["judgements"] * cores / max(1, stats["pairs"]), 4),
        "pairs_per_document": round(stats["pairs"] / max(1, stats["documents"]), 2),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "spark.json"
    previous = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    sizes = previous.get("sizes", {})
    sizes[str(size)] = out
    path.write_text(json.dumps({"sizes": sizes}, indent=2) + "\n", encoding="utf-8")
    return out


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SIZE), indent=2))
