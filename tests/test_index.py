"""Tests for retold.index: a real SQLite store in tmp_path, 300 BBC articles plus our examples.

Covers: add and read back, re-add is a no-op, the stored settings and schema version are enforced,
one writer at a time, the faiss cache is rebuilt when it disagrees with SQLite, and a real
``kill -9`` in the middle of an add loses nothing committed and resumes to the same store.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from retold.errors import StoreError
from retold.index import DB_NAME, SCHEMA_VERSION, VECTORS_NAME, Index
from retold.ingest import load, load_bytes
from retold.model import Document
from retold.retrieve import RetrieveSettings, content_hash

ROOT = Path(__file__).resolve().parents[1]
BBC_COUNT = 300


def _bbc(shared_data: Path, n: int = BBC_COUNT) -> list[Document]:
    docs = []
    with (shared_data / "news" / "bbc-2004-2005.jsonl").open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if number > n:
                break
            docs.append(load_bytes(line, f"bbc-2004-2005.jsonl:{number}", "json"))
    return docs


@pytest.fixture(scope="module")
def bbc(shared_data: Path) -> list[Document]:
    return _bbc(shared_data)


@pytest.fixture(scope="module")
def examples() -> list[Document]:
    return [load(p) for p in sorted((ROOT / "examples").glob("*.txt"))]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, bbc: list[Document], examples: list[Document]) -> Path:
    path = tmp_path_factory.mktemp("index") / "store"
    with Index.open(path, create=True) as index:
        report = index.add(bbc + examples, batch_size=64)
    assert report.added + report.duplicates == len(bbc) + len(examples)
    assert report.added > 250  # the BBC set holds a few exact duplicates
    return path


def test_add_then_read_back(store: Path, bbc: list[Document], examples: list[Document]) -> None:
    with Index.open(store) as index:
        stats = index.stats()
        unique = len({content_hash(d.text) for d in bbc + examples})
        assert stats["documents"] == unique == stats["signatures"] == stats["embeddings"]
        assert stats["schema_version"] == SCHEMA_VERSION
        assert stats["files"][DB_NAME] > 0 and stats["files"][VECTORS_NAME] > 0
        assert stats["postings"] > stats["documents"] * 20

        wire = next(d for d in examples if d.name.endswith("wire_story.txt"))
        stored = index.get(wire.id)
        assert stored.text == wire.text and stored.name == wire.name
        assert index.get("business/001").title == bbc[0].title
        with pytest.raises(KeyError):
            index.get("no-such-id")
        assert sum(1 for _ in index.documents()) == stats["documents"]

        # Segments are stored with offsets into the stored text.
        db = sqlite3.connect(store / DB_NAME)
        key, text = db.execute("SELECT key, text FROM documents WHERE doc_id = ?", (wire.id,)).fetchone()
        rows = db.execute(
            "SELECT start, \"end\", role FROM segments WHERE doc = ? AND kind = 'sentence' ORDER BY idx", (key,)
        ).fetchall()
        assert rows and text[rows[0][0] : rows[0][1]].startswith("Harbour authority approves")
        db.close()


def test_readd_is_a_no_op(store: Path, bbc: list[Document], examples: list[Document]) -> None:
    with Index.open(store, writable=True) as index:
        before = index.stats()
        report = index.add(bbc[:50] + examples)
        after = index.stats()
    assert report.added == 0 and report.duplicates == 54 and report.seen == 54
    for key in ("documents", "postings", "terms", "embeddings", "sentences"):
        assert after[key] == before[key]


def test_same_id_other_text_is_renamed(tmp_path: Path) -> None:
    with Index.open(tmp_path / "s", create=True, settings=RetrieveSettings(encoder="none")) as index:
        first = Document(text="The harbour reopened on Monday after storms.", id="wire-1")
        second = Document(text="The airport closed on Tuesday after snow.", id="wire-1")
        report = index.add([first, second])
        assert report.added == 2 and report.renamed == 1
        assert index.get("wire-1").text == first.text
        assert index.get(report.renamed_ids[0]).text == second.text


def test_settings_mismatch_is_refused(store: Path) -> None:
    with pytest.raises(StoreError, match="shingle_size=3 .asked for 5"):
        Index.open(store, settings=RetrieveSettings(shingle_size=5))
    with pytest.raises(StoreError, match="encoder"):
        Index.open(store, settings=RetrieveSettings(encoder="none"))
    # Query-time knobs may change freely.
    with Index.open(store, settings=RetrieveSettings(min_cosine=0.5)) as index:
        assert index.settings.min_cosine == 0.5


def test_bad_stores_are_refused(tmp_path: Path, store: Path) -> None:
    with pytest.raises(StoreError, match="no retold store"):
        Index.open(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="not a directory"):
        Index.open(tmp_path / "file")
    other = tmp_path / "other"
    other.mkdir()
    sqlite3.connect(other / DB_NAME).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(StoreError, match="not a retold store"):
        Index.open(other)
    with Index.open(store, writable=True):
        with pytest.raises(StoreError, match="locked"):
            Index.open(store, writable=True)
        with Index.open(store) as reader:  # readers never wait for the writer
            assert reader.count() > 0


def test_newer_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s"
    with Index.open(path, create=True, settings=RetrieveSettings(encoder="none")) as index:
        index.add([Document.from_text("Ships came back to the harbour on Monday morning.")])
    db = sqlite3.connect(path / DB_NAME)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1}"):
        Index.open(path)


def test_vector_cache_is_rebuilt(tmp_path: Path, bbc: list[Document]) -> None:
    path = tmp_path / "s"
    with Index.open(path, create=True) as index:
        index.add(bbc[:40], workers=1)
    (path / VECTORS_NAME).unlink()
    with Index.open(path) as index:
        assert index.vectors().ntotal == index.count()
    assert (path / VECTORS_NAME).exists()
    # A stale cache (fewer vectors than SQLite) is caught up, not trusted.
    stale = (path / VECTORS_NAME).read_bytes()
    with Index.open(path, writable=True) as index:
        index.add(bbc[40:60], workers=1)
    (path / VECTORS_NAME).write_bytes(stale)
    with Index.open(path) as index:
        assert index.vectors().ntotal == index.count()


_KILLED_ADD = textwrap.dedent(
    """
    import sys
    from retold.index import Index
    from retold.ingest import load_bytes

    store, data, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(data, "rb") as handle:
        docs = [load_bytes(line, f"bbc-2004-2005.jsonl:{i}", "json") for i, line in zip(range(1, n + 1), handle)]

    def committed(report):
        print(f"committed {report.added}", flush=True)

    with Index.open(store, writable=True, create=True) as index:
        index.add(docs, batch_size=25, progress=committed, workers=1)
    print("done", flush=True)
    """
)


def test_kill_9_mid_add_then_resume(tmp_path: Path, store: Path, shared_data: Path, bbc: list[Document]) -> None:
    path = tmp_path / "killed"
    data = shared_data / "news" / "bbc-2004-2005.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-c", _KILLED_ADD, str(path), str(data), str(BBC_COUNT)],
        stdout=subprocess.PIPE, text=True, start_new_session=True,
    )
    committed_lines = []
    deadline = time.monotonic() + 60
    try:
        assert process.stdout is not None
        for line in process.stdout:
            committed_lines.append(line.strip())
            if len(committed_lines) == 2 or time.monotonic() > deadline:
                break  # the third batch is being computed or written right now
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert committed_lines == ["committed 25", "committed 50"]

    with Index.open(path) as index:  # opens; every committed batch is there; the cache catches up
        count = index.count()
        assert count >= 50 and count % 25 == 0 and count < BBC_COUNT
        assert index.stats()["embeddings"] == count
        assert index.vectors().ntotal == count
    db = sqlite3.connect(path / DB_NAME)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()

    with Index.open(path, writable=True) as index:
        report = index.add(bbc, batch_size=25)
        assert report.duplicates >= count
        resumed = index.stats()
        hashes = {h for (h,) in index._db.execute("SELECT content_hash FROM documents")}
    with Index.open(store) as reference:
        expected = {content_hash(d.text) for d in bbc}
        reference_hashes = {h for (h,) in reference._db.execute("SELECT content_hash FROM documents")}
        assert expected <= reference_hashes
        df_reference = dict(reference._db.execute("SELECT term, df FROM terms WHERE term LIKE 'name:%'"))
    assert hashes == expected and resumed["documents"] == len(expected)
    assert resumed["signatures"] == resumed["embeddings"] == resumed["documents"]
    with Index.open(path) as index:
        df_resumed = dict(index._db.execute("SELECT term, df FROM terms WHERE term LIKE 'name:%'"))
    # Document frequencies count each document once: the examples add to the reference only.
    assert all(df_resumed[t] <= df_reference[t] for t in df_resumed)


def test_cli_index_add_stats_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from retold.cli import main

    store = tmp_path / "cli-store"
    assert main(["index", "add", str(store), str(ROOT / "examples"), "--quiet"]) == 0
    assert main(["index", "add", str(store), str(ROOT / "examples")]) == 0
    assert "Added 0 documents (4 already present" in capsys.readouterr().err
    assert main(["index", "stats", str(store), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["documents"] == 4
    html_path = tmp_path / "trace.html"
    code = main(["trace", str(store), str(ROOT / "examples" / "rewrite_condensed.txt"), "--json",
                 "--html", str(html_path)])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["article"]["in_store"] is True
    assert result["sources"][0]["document"]["name"].endswith("wire_story.txt")
    assert html_path.read_text(encoding="utf-8").count("<details") >= 1
    # Lexical only still names the wire story first.
    code = main(["trace", str(store), str(ROOT / "examples" / "rewrite_condensed.txt"), "--json",
                 "--escalate", "never"])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["sources"][0]["document"]["name"].endswith("wire_story.txt")
    # A missing store is one line on stderr and a failing status.
    code = main(["trace", str(tmp_path / "nowhere"), str(ROOT / "examples" / "wire_story.txt")])
    err = capsys.readouterr().err
    assert code != 0 and err.count("\n") == 1 and "no retold store" in err


def test_signatures_stay_datasketch_compatible(bbc: list[Document]) -> None:
    """retold's numpy MinHash gives the signature datasketch's MinHash gives (the store's format)."""
    from datasketch import MinHash

    from retold.features import shingles, words
    from retold.retrieve import MINHASH_SCHEME, document_features

    for settings in (RetrieveSettings(encoder="none"), RetrieveSettings(encoder="none", num_perm=64, seed=7)):
        for doc in [*bbc[:5], Document.from_text("Too short.")]:
            fresh = MinHash(num_perm=settings.num_perm, seed=settings.seed, scheme=MINHASH_SCHEME)
            grams = shingles(words(doc.text), settings.shingle_size)
            fresh.update_batch([" ".join(s).encode("utf-8") for s in grams])
            minhash = document_features(doc, settings).minhash
            assert minhash.dtype == "uint32" and (minhash == fresh.hashvalues).all()


def test_known_lsh_shape_is_datasketch_s() -> None:
    from datasketch import MinHashLSH

    from retold.index import _LSH_SHAPES

    for (threshold, num_perm), shape in _LSH_SHAPES.items():
        lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        assert shape == (lsh.b, lsh.r)


def test_band_queries_match_datasketch_s_lsh(store: Path) -> None:
    """The sorted band arrays find exactly what datasketch's MinHashLSH finds, with or without merging."""
    from datasketch import LeanMinHash, MinHashLSH

    from retold.index import BandTable
    from retold.retrieve import MINHASH_SCHEME

    with Index.open(store) as index:
        keys = [k for (k,) in index.db.execute(
            "SELECT s.doc FROM signatures s JOIN documents d ON d.key = s.doc WHERE d.shingles > 0 ORDER BY s.doc")]
        signatures = index.signatures(keys)
        lsh = MinHashLSH(threshold=index.settings.lsh_threshold, num_perm=index.settings.num_perm)
        for key in keys:
            lsh.insert(key, LeanMinHash(seed=index.settings.seed, hashvalues=signatures[key][0], scheme=MINHASH_SCHEME))
        found = {k: index.query_lsh(signatures[k][0]) for k in keys}
        assert index.lsh_build_s is not None
        bands, rows = lsh.b, lsh.r
    # the same rows added one by one: waiting unsorted (no merge), or merged every 5 rows
    unmerged, merged = BandTable(bands, rows), BandTable(bands, rows)
    merged.MERGE_ROWS = 5
    for key in keys:
        for table in (unmerged, merged):
            table.add(np.array([key]), signatures[key][0].reshape(1, -1))
    assert len(unmerged) == len(merged) == len(keys) > 20
    for key in keys:
        query = LeanMinHash(seed=1, hashvalues=signatures[key][0], scheme=MINHASH_SCHEME)
        expected = sorted(int(k) for k in lsh.query(query))
        assert found[key] == expected and key in expected
        assert unmerged.query(signatures[key][0]) == merged.query(signatures[key][0]) == expected
    assert any(len(v) > 1 for v in found.values())  # the examples' rewrites share buckets


def test_band_queries_see_documents_added_after_loading(tmp_path: Path, examples: list[Document]) -> None:
    wire = next(d for d in examples if d.name.endswith("wire_story.txt"))
    close = next(d for d in examples if d.name.endswith("rewrite_close.txt"))
    from retold.retrieve import document_features

    settings = RetrieveSettings(encoder="none")
    with Index.open(tmp_path / "s", create=True, settings=settings) as index:
        index.add([d for d in examples if d is not wire])
        query = document_features(close, settings).minhash
        before = index.query_lsh(query)  # loads the band matrix
        index.add([wire])
        after = index.query_lsh(query)
        wire_key = index.key_of_hash(content_hash(wire.text))
    assert wire_key not in before and wire_key in after


def test_trace_tiers_agree_on_the_source(store: Path, examples: list[Document]) -> None:
    """Two tiers name the same source as the all-semantic trace, with at most max_semantic compares."""
    from retold.errors import ConfigError
    from retold.trace import TraceSettings, trace

    rewrite = next(d for d in examples if d.name.endswith("rewrite_condensed.txt"))
    with Index.open(store) as index:
        full = trace(index, rewrite, limit=6, compare_top=1, trace_settings=TraceSettings(escalate="always"))
        tiered = trace(index, rewrite, limit=6, compare_top=1)
        lexical = trace(index, rewrite, limit=6, compare_top=1, trace_settings=TraceSettings(escalate="never"))
    assert full.compared_semantically == full.candidates_considered >= 3
    assert 1 <= tiered.compared_semantically <= TraceSettings().max_semantic
    assert lexical.compared_semantically == 0
    for result in (full, tiered, lexical):
        best = result.sources[0]
        assert best.document.name.endswith("wire_story.txt") and best.relation == "source"
    assert tiered.sources[0].verdict == full.sources[0].verdict  # the top source got the semantic compare
    assert [s.doc_id for s in tiered.sources if s.derived] == [s.doc_id for s in full.sources if s.derived]
    with pytest.raises(ConfigError):
        TraceSettings(escalate="sometimes")


@pytest.mark.parametrize("threshold", [0.1, 0.5, 0.8, 0.95])
def test_band_table_matches_datasketch_for_every_band_shape(threshold: float) -> None:
    """r = 2 packs a band into one uint64, r = 1 and r > 2 take other paths: all find datasketch's keys."""
    from datasketch import LeanMinHash, MinHashLSH

    from retold.index import BandTable
    from retold.retrieve import MINHASH_SCHEME

    rng = np.random.default_rng(0)
    signatures = rng.integers(0, 2**32, size=(60, 128), dtype=np.uint32)
    for row in range(30, 60):  # noisy copies of the first 30, so that buckets are shared
        signatures[row] = signatures[row - 30]
        noise = rng.random(128) < (0.03 if row < 45 else 0.4)  # close copies and loose ones
        signatures[row][noise] = rng.integers(0, 2**32, size=int(noise.sum()), dtype=np.uint32)
    lsh = MinHashLSH(threshold=threshold, num_perm=128)
    for key, signature in enumerate(signatures):
        lsh.insert(key, LeanMinHash(seed=1, hashvalues=signature, scheme=MINHASH_SCHEME))
    for merge_rows in (5, BandTable.MERGE_ROWS):
        table = BandTable(lsh.b, lsh.r)
        table.MERGE_ROWS = merge_rows
        for key, signature in enumerate(signatures):
            table.add(np.array([key]), signature.reshape(1, -1))
        for key, signature in enumerate(signatures):
            expected = sorted(int(k) for k in lsh.query(LeanMinHash(seed=1, hashvalues=signature, scheme=MINHASH_SCHEME)))
            assert table.query(signature) == expected
        assert any(len(table.query(s)) > 1 for s in signatures)
