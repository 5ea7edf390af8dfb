"""Tests for retold.scan on a real store: our four examples and 50 BBC articles from every topic.

What a user would notice: the scan links the two rewrites to the wire story (the wire story as the
source) and nothing else among the examples; the independent report of the same event gets no
edge; the three edge tables hold the same rows; pairs.parquet holds every judged pair, its derived
rows agreeing with the edges; every edge in graph.html opens an existing compare
page; a scan killed with SIGKILL and run again ends with the same edges and no duplicate rows.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from retold.errors import StoreError
from retold.index import DB_NAME, SCHEMA_VERSION, Index
from retold.ingest import load, load_bytes
from retold.model import Document
from retold.retrieve import RetrieveSettings
from retold.scan import (
    EDGE_COLUMNS,
    PAIR_COLUMNS,
    ScanSettings,
    build_result,
    compare_page_name,
    scan,
    story_groups,
)

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = ScanSettings(batch_docs=8, workers=1)


@pytest.fixture(scope="module")
def examples() -> dict[str, Document]:
    return {p.stem: load(p) for p in sorted((ROOT / "examples").glob("*.txt"))}


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory, shared_data: Path, examples: dict[str, Document]) -> dict[str, Path]:
    docs = []
    with (shared_data / "news" / "bbc-2004-2005.jsonl").open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if number % 44 == 0 and len(docs) < 50:
                docs.append(load_bytes(line, f"bbc-2004-2005.jsonl:{number}", "json"))
    root = tmp_path_factory.mktemp("scan")
    with Index.open(root / "store", create=True) as index:
        # Publication order: the wire story first, then its rewrites and the independent report.
        ordered = [examples["wire_story"]] + [d for n, d in examples.items() if n != "wire_story"]
        index.add(ordered + docs, workers=1)
    shutil.copytree(root / "store", root / "fresh")
    return {"store": root / "store", "fresh": root / "fresh"}


@pytest.fixture(scope="module")
def scanned(stores: dict[str, Path], tmp_path_factory: pytest.TempPathFactory):
    with Index.open(stores["store"], writable=True) as index:
        result = scan(index, scan_settings=SETTINGS)
    out = tmp_path_factory.mktemp("scan-out")
    result.write(out)
    return result, out


def _example_edges(result, examples: dict[str, Document]) -> set[tuple[str, str]]:
    names = {doc.id: name for name, doc in examples.items()}
    return {(names.get(e.derivative, e.derivative), names.get(e.source, e.source)) for e in result.edges
            if e.derivative in names or e.source in names}


def test_scan_links_the_two_rewrites_to_the_wire_story(scanned, examples) -> None:
    result, _ = scanned
    assert _example_edges(result, examples) == {("rewrite_close", "wire_story"), ("rewrite_condensed", "wire_story")}
    cluster = next(c for c in result.clusters if examples["wire_story"].id in c.documents)
    assert cluster.earliest_source == examples["wire_story"].id
    assert examples["independent_report"].id not in {d for e in result.edges for d in (e.derivative, e.source)}
    assert result.stats.pairs_total == result.stats.pairs_judged > 0


def test_the_story_cluster_holds_the_examples_and_no_bbc_article(scanned, examples) -> None:
    """The independent report joins the wire story's cluster through its same-event link (the
    retrieval gate settles its pairs with the rewrites unjudged by compare: a link to one member of
    a derivation group is a link to the group); none of the 50 BBC articles does."""
    result, _ = scanned
    cluster = next(c for c in result.clusters if examples["wire_story"].id in c.documents)
    assert set(cluster.documents) == {doc.id for doc in examples.values()}
    assert cluster.edges == 2 and cluster.same_event_links >= 1


def _judged(a: int, b: int, derived: bool) -> tuple[object, ...]:
    """A stored judgement row (the 13 columns build_result reads): ``a`` derived from ``b``, or the
    same event."""
    return (a, b, int(derived), a, b, 0.9 if derived else 0.1, "paraphrase" if derived else "same event",
            0.8, 0.6, 0.9, "[]", int(not derived), "lexical")


def test_same_event_links_do_not_chain_stories_into_one_cluster() -> None:
    """Two stories of three reports each, every report linked to the others as the same event,
    and one pair across them that shares a few names (award-season stories sharing a film title):
    two clusters, not one. A derivation chain (a rewrite of a rewrite of a wire story) is one
    cluster, and a report of the same event linked to one of its members joins it. A report linked
    to one of the three independent reports of a story is left alone (no cluster of one)."""
    story_a = [_judged(1, 2, False), _judged(1, 3, False), _judged(2, 3, False)]
    story_b = [_judged(4, 5, False), _judged(4, 6, False), _judged(5, 6, False)]
    bridge = [_judged(3, 4, False)]
    chain = [_judged(8, 7, True), _judged(9, 8, True), _judged(10, 9, False)]
    loner = [_judged(11, 1, False)]
    rows = sorted(story_a + story_b + bridge + chain + loner)
    meta = {k: (f"doc{k}", None, None, None) for k in range(1, 12)}
    result = build_result(rows, meta, documents=11, pairs_total=len(rows))
    assert sorted(sorted(c.documents) for c in result.clusters) == sorted(
        [["doc1", "doc2", "doc3"], ["doc4", "doc5", "doc6"], ["doc10", "doc7", "doc8", "doc9"]])
    assert {e.source for e in result.edges} == {"doc7", "doc8"}
    assert [c.same_event_links for c in result.clusters] == [1, 3, 3]
    assert len(story_groups(rows, linkage=0.0)) == 2  # single link: one chained cluster besides the chain


def test_an_edge_of_unclear_direction_does_not_pick_the_earliest_source(
    tmp_path: Path, examples: dict[str, Document]
) -> None:
    """Added in name order, the close paraphrase comes before the wire story, and their edge's
    direction is a coin toss (equal lengths, full coverage both ways); the condensed rewrite's
    edge is clear, so the wire story is still the cluster's earliest source."""
    with Index.open(tmp_path / "store", create=True) as index:
        index.add([examples[name] for name in sorted(examples)], workers=1)
        result = scan(index, scan_settings=SETTINGS)
    unclear = [e for e in result.edges if e.direction_confidence < 0.6]
    assert unclear, "the close paraphrase's direction should be unclear"
    cluster = next(c for c in result.clusters if examples["wire_story"].id in c.documents)
    assert cluster.earliest_source == examples["wire_story"].id
    assert cluster.earliest_by == "derivation root"


def test_syndicated_copies_are_judged_in_a_star(tmp_path: Path, examples: dict[str, Document]) -> None:
    """Three syndicated copies of the wire story (another footer each): every copy gets a copy edge
    to the first-added one, the rewrites keep their edges to it, and the scan judges fewer pairs
    than without the near-duplicate rule, for the same clusters."""
    wire = examples["wire_story"]
    footers = ("Republished with permission of the Harbour Gazette.", "Syndicated by Coastal Wire Services.",
               "This story first appeared in the Northern Ledger.")
    copies = [Document(text=f"{wire.text}\n\n{footer}", id=f"copy-{n}", name=f"copy-{n}", title=wire.title)
              for n, footer in enumerate(footers)]
    ordered = [wire, *copies, examples["rewrite_close"], examples["rewrite_condensed"], examples["independent_report"]]
    results = {}
    for name, threshold in (("star", 0.9), ("all", 1.01)):
        with Index.open(tmp_path / name, create=True) as index:
            index.add(ordered, workers=1)
            results[name] = scan(index, scan_settings=ScanSettings(batch_docs=8, workers=1,
                                                                     duplicate_jaccard=threshold))
    star, every = results["star"], results["all"]
    copy_edges = {(e.derivative, e.source) for e in star.edges if e.derivative.startswith("copy-")}
    assert copy_edges == {(c.id, wire.id) for c in copies}
    assert all(e.type == "copy" for e in star.edges if e.derivative.startswith("copy-"))
    rewrites = {examples["rewrite_close"].id, examples["rewrite_condensed"].id}
    assert {(e.derivative, e.source) for e in star.edges if e.derivative in rewrites} == {(r, wire.id) for r in rewrites}
    assert star.stats.pairs_judged < every.stats.pairs_judged
    assert sorted(sorted(c.documents) for c in star.clusters) == sorted(sorted(c.documents) for c in every.clusters)
    assert examples["independent_report"].id not in {d for e in star.edges for d in (e.derivative, e.source)}


def test_exports_hold_the_same_rows(scanned) -> None:
    result, out = scanned
    jsonl = [json.loads(line) for line in (out / "edges.jsonl").read_text().splitlines()]
    with (out / "edges.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    table = pq.read_table(out / "edges.parquet")
    assert tuple(table.column_names) == EDGE_COLUMNS == tuple(rows[0]) == tuple(jsonl[0])
    parquet = table.to_pylist()
    assert len(jsonl) == len(rows) == len(parquet) == len(result.edges)
    for a, b, c in zip(jsonl, rows, parquet):
        assert a == c
        assert {k: str(v) for k, v in a.items()} == b
    clusters = json.loads((out / "clusters.json").read_text())
    assert clusters["schema_version"] == "1.0" and len(clusters["clusters"]) == len(result.clusters)


def test_pairs_parquet_holds_every_judged_pair(scanned) -> None:
    result, out = scanned
    table = pq.read_table(out / "pairs.parquet")
    assert tuple(table.column_names) == PAIR_COLUMNS
    assert str(table.schema.field("derived").type) == str(table.schema.field("same_event").type) == "bool"
    rows = table.to_pylist()
    assert len(rows) == len({(r["a"], r["b"]) for r in rows}) == result.stats.pairs_judged > 0
    assert {r["stage"] for r in rows} <= {"retrieval", "lexical", "semantic"}
    assert all(r["derivative"] is None and r["source"] is None and not r["derived"]
               for r in rows if r["stage"] == "retrieval")
    derived = {(r["derivative"], r["source"]): r for r in rows if r["derived"]}
    edges = {(e.derivative, e.source): e.row() for e in result.edges}
    assert edges and set(edges) <= set(derived)
    for pair, edge in edges.items():
        assert {k: derived[pair][k] for k in EDGE_COLUMNS if k != "cluster"} == \
            {k: v for k, v in edge.items() if k != "cluster"}, pair
    cluster_of = {doc: c.id for c in result.clusters for doc in c.documents}
    for derivative, source in set(derived) - set(edges):  # dropped by the triangle rule: same cluster
        assert cluster_of[derivative] == cluster_of[source]


def test_graph_links_every_edge_to_its_compare_page(scanned) -> None:
    result, out = scanned
    page = (out / "graph.html").read_text()
    assert "<script src" not in page and "http" not in page.split("<body>", 1)[1]
    for edge in result.edges:
        name = compare_page_name(edge)
        assert f'href="compares/{name}"' in page
        compare = (out / "compares" / name).read_text()
        assert compare.startswith("<!DOCTYPE html>") or "<html" in compare[:200]


def test_rescan_judges_nothing_new(scanned, stores) -> None:
    result, _ = scanned
    with Index.open(stores["store"], writable=True) as index:
        again = scan(index, scan_settings=SETTINGS)
    assert again.stats.pairs_judged == 0 and again.stats.documents_skipped == again.stats.documents
    assert again.edges == result.edges


def test_other_settings_need_a_restart(stores, scanned) -> None:
    with Index.open(stores["store"], writable=True) as index, pytest.raises(StoreError, match="restart"):
        scan(index, scan_settings=ScanSettings(limit_candidates=3, workers=1))
    with Index.open(stores["store"]) as index, pytest.raises(StoreError, match="writable"):
        scan(index)


_KILLED_SCAN = """
import sys, time
from retold.index import Index
from retold.scan import ScanSettings, scan
def progress(p):
    print("batch", p.documents_done, flush=True)
    time.sleep(0.3)
if __name__ == "__main__":
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    with Index.open(sys.argv[1], writable=True) as index:
        scan(index, progress=progress, scan_settings=ScanSettings(batch_docs=8, workers=workers))
    print("finished", flush=True)
"""


def test_kill_9_of_a_scan_stops_its_worker_processes(stores, tmp_path: Path) -> None:
    """Workers of a killed scan must not go on judging batches nobody will commit."""
    import psutil

    store = tmp_path / "store"
    shutil.copytree(stores["fresh"], store)
    script = tmp_path / "killed_scan.py"
    script.write_text(_KILLED_SCAN, encoding="utf-8")
    process = subprocess.Popen([sys.executable, str(script), str(store), "2"], stdout=subprocess.PIPE,
                               text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("batch"):
            break
    workers = [c for c in psutil.Process(process.pid).children(recursive=True) if c.is_running()]
    assert len(workers) >= 2
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    _gone, alive = psutil.wait_procs(workers, timeout=10)
    assert alive == [], f"workers still running after their scan was killed: {[p.pid for p in alive]}"


def test_kill_9_then_resume_gives_the_same_edges(stores, scanned, tmp_path: Path) -> None:
    result, _ = scanned
    store = tmp_path / "store"
    shutil.copytree(stores["fresh"], store)
    process = subprocess.Popen([sys.executable, "-c", _KILLED_SCAN, str(store)], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    batches = 0
    deadline = time.monotonic() + 60
    assert process.stdout is not None
    for line in process.stdout:
        batches += line.startswith("batch")
        if batches >= 2 or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert batches >= 2 and process.returncode == -signal.SIGKILL
    db = sqlite3.connect(store / DB_NAME)
    done = db.execute("SELECT COUNT(*) FROM scanned").fetchone()[0]
    db.close()
    assert 0 < done < result.stats.documents  # killed mid-scan, with committed batches
    with Index.open(store, writable=True) as index:
        resumed = scan(index, scan_settings=SETTINGS)
        pairs = index.db.execute("SELECT COUNT(*), COUNT(DISTINCT doc_a || '-' || doc_b) FROM results").fetchone()
    assert resumed.stats.documents_skipped == done
    assert resumed.edges == result.edges
    assert pairs[0] == pairs[1] == result.stats.pairs_total


def test_version_1_store_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "s"
    with Index.open(path, create=True, settings=RetrieveSettings(encoder="none")) as index:
        index.add([Document.from_text("Ships came back to the harbour on Monday morning after the strike.")])
    db = sqlite3.connect(path / DB_NAME)
    db.executescript("DROP TABLE results; DROP TABLE scanned; DROP INDEX postings_by_doc; PRAGMA user_version = 1;")
    db.close()
    with Index.open(path) as index:  # read-only: read as is
        assert index.schema_version == 1
    with Index.open(path, writable=True) as index:
        assert index.schema_version == SCHEMA_VERSION == 2
        assert scan(index, scan_settings=ScanSettings(workers=1)).edges == []
