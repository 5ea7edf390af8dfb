"""The Spark engine against the local one, on one small real corpus.

Corpus: our four examples (a wire story, two rewrites of it, an independent report of the same
event), 100 BBC articles from every topic, and two rewrites of BBC articles made here (a light
edit and a condensed version). What a user would notice: ``python -m retold.spark`` on
``local[2]`` finds exactly the edges ``retold scan`` finds, with the same probabilities, types,
coverages and directions, and in the same clusters; both export the same judged pairs
(``pairs.parquet``); a second run resumes from the checkpoints.

Marked ``spark``; skipped with the reason when pyspark or Java is missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BBC_EVERY = 22
BBC_DOCS = 100

pytestmark = pytest.mark.spark


def _java_problem() -> str | None:
    java = shutil.which("java")
    if java is None:
        return "Java is not installed (apt-get install openjdk-17-jre-headless)"
    try:
        subprocess.run([java, "-version"], capture_output=True, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"java -version failed: {exc}"
    return None


@pytest.fixture(scope="module")
def spark_session():
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'retold[spark]')")
    problem = _java_problem()
    if problem:
        pytest.skip(problem)
    from retold.engines.spark import SparkSettings, _session

    session = _session("local[2]", SparkSettings(shuffle_partitions=2))
    yield session
    session.stop()


def _rewrite_light(text: str) -> str:
    """A light edit: the same sentences, a few words swapped, the last paragraph dropped."""
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    edited = "\n\n".join(paragraphs[:-1] if len(paragraphs) > 3 else paragraphs)
    for old, new in ((" said ", " told reporters "), (" but ", " however ")):
        edited = edited.replace(old, new)
    return edited


def _rewrite_condensed(text: str) -> str:
    """A condensed rewrite: the first paragraph and every second one after it."""
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    kept = paragraphs[:1] + paragraphs[1::2]
    return "\n\n".join(kept).replace(" said ", " says ")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> list[str]:
    root = tmp_path_factory.mktemp("spark-corpus")
    records = []
    with (shared_data / "news" / "bbc-2004-2005.jsonl").open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if number % BBC_EVERY == 0 and len(records) < BBC_DOCS:
                records.append(json.loads(line))
    derived = [
        {"id": f"rewrite-of-{records[10]['id']}", "title": records[10]["title"] + " (update)",
         "text": _rewrite_light(records[10]["text"])},
        {"id": f"digest-of-{records[40]['id']}", "title": "In brief: " + records[40]["title"],
         "text": _rewrite_condensed(records[40]["text"])},
    ] + [  # syndicated copies: the near-duplicate rule judges them in a star in both engines
        {"id": f"copy{n}-of-{records[25]['id']}", "title": records[25]["title"],
         "text": records[25]["text"] + f"\n\n{footer}"}
        for n, footer in enumerate(("Republished with permission.", "Syndicated by the Coastal Wire."))
    ]
    with (root / "bbc.jsonl").open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps({k: record[k] for k in ("id", "title", "text")}) + "\n")
    with (root / "derived.jsonl").open("w", encoding="utf-8") as out:
        for record in derived:
            out.write(json.dumps(record) + "\n")
    return [str(ROOT / "examples"), str(root / "bbc.jsonl"), str(root / "derived.jsonl")]


@pytest.fixture(scope="module")
def local_edges(corpus: list[str], tmp_path_factory: pytest.TempPathFactory):
    from retold.index import Index
    from retold.ingest.batch import iter_documents
    from retold.scan import ScanSettings, scan

    store = tmp_path_factory.mktemp("spark-local") / "store"
    with Index.open(store, writable=True, create=True) as index:
        index.add(iter_documents(corpus), workers=1)
        result = scan(index, scan_settings=ScanSettings(workers=1))
    return result


@pytest.fixture(scope="module")
def local_out(local_edges, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("spark-local-out")
    local_edges.write(out, compares=False)
    return out


@pytest.fixture(scope="module")
def spark_out(corpus: list[str], spark_session, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from retold.engines.spark import run_spark

    out = tmp_path_factory.mktemp("spark-out")
    path = run_spark(corpus, out, spark=spark_session)
    assert path == out / "edges.parquet"
    return out


def _key(row: dict) -> tuple[str, str]:
    return row["derivative"], row["source"]


def _same_pairs(local: Path, spark: Path) -> int:
    """Both ``pairs.parquet`` have :data:`PAIR_COLUMNS` and the same judged pairs; returns their count."""
    import pyarrow.parquet as pq

    from retold.scan import PAIR_COLUMNS

    tables = {name: pq.read_table(folder / "pairs.parquet") for name, folder in (("local", local), ("spark", spark))}
    assert tuple(tables["spark"].column_names) == tuple(tables["local"].column_names) == PAIR_COLUMNS
    rows = {name: {(r["a"], r["b"]): r for r in table.to_pylist()} for name, table in tables.items()}
    assert {(a, b, r["derived"], r["type"]) for (a, b), r in rows["spark"].items()} == \
        {(a, b, r["derived"], r["type"]) for (a, b), r in rows["local"].items()}
    for pair, row in rows["local"].items():
        assert rows["spark"][pair]["probability"] == pytest.approx(row["probability"], abs=1e-3), pair
    return len(rows["local"])


def test_spark_finds_the_same_edges_as_the_local_engine(local_edges, local_out: Path, spark_out: Path) -> None:
    import pyarrow.parquet as pq

    from retold.scan import EDGE_COLUMNS

    table = pq.read_table(spark_out / "edges.parquet")
    assert tuple(table.column_names) == EDGE_COLUMNS
    spark_rows = {_key(r): r for r in table.to_pylist()}
    local_rows = {_key(r): r for r in (e.row() for e in local_edges.edges)}
    assert set(spark_rows) == set(local_rows)
    assert len(local_rows) >= 4  # the two example rewrites and the two made here
    for pair, local in local_rows.items():
        found = spark_rows[pair]
        for column in ("probability", "coverage_derivative", "coverage_source", "direction_confidence"):
            assert found[column] == pytest.approx(local[column], abs=1e-3), (pair, column)
        assert (found["type"], found["direction_evidence"], found["cluster"]) == \
            (local["type"], local["direction_evidence"], local["cluster"]), pair
    judged = _same_pairs(local_out, spark_out)
    assert judged == local_edges.stats.pairs_judged
    assert judged == json.loads((spark_out / "spark_stats.json").read_text(encoding="utf-8"))["pairs"]


def test_spark_links_the_rewrites_made_here(spark_out: Path) -> None:
    rows = [json.loads(line) for line in (spark_out / "edges.jsonl").read_text(encoding="utf-8").splitlines()]
    derivatives = {r["derivative"]: r["source"] for r in rows}
    rewrites = {d: s for d, s in derivatives.items() if d.startswith(("rewrite-of-", "digest-of-"))}
    assert {d.split("-of-", 1)[1] for d in rewrites} == set(rewrites.values())
    assert len(rewrites) == 2
    copies = {d: s for d, s in derivatives.items() if d.startswith("copy")}
    assert len(copies) == 2 and {d.split("-of-", 1)[1] for d in copies} == set(copies.values())


def test_a_second_run_resumes_from_the_checkpoints(corpus: list[str], spark_out: Path, spark_session) -> None:
    from retold.engines.spark import STAGES, run_spark

    before = (spark_out / "edges.jsonl").read_text(encoding="utf-8")
    run_spark(corpus, spark_out, spark=spark_session)
    stats = json.loads((spark_out / "spark_stats.json").read_text(encoding="utf-8"))
    assert stats["skipped"] == list(STAGES)
    assert (spark_out / "edges.jsonl").read_text(encoding="utf-8") == before
    for stage in STAGES:
        assert (spark_out / "tmp" / f"{stage}.parquet" / "_SUCCESS").exists()


def test_bucket_pairs_caps_large_buckets() -> None:
    from retold.engines.spark import bucket_pairs

    members = list(range(1000))
    pairs = list(bucket_pairs(members, cap=10))
    assert len(pairs) < 10 * len(members)
    assert len(set(pairs)) == len(pairs) and all(a < b for a, b in pairs)
    assert len(list(bucket_pairs(members[:10], cap=10))) == 45


def test_a_parquet_of_documents_is_read_like_any_input(spark_session, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from retold.engines.spark import run_spark
    from retold.ingest import load

    texts = {p.stem: p.read_text(encoding="utf-8") for p in sorted((ROOT / "examples").glob("*.txt"))}
    rows = [{"id": name, "title": None, "text": text} for name, text in texts.items()]
    rows.append({"id": "repeat", "title": None, "text": texts["wire_story"]})  # same text: dropped
    rows.append({"id": "short", "title": None, "text": "Too short."})  # too little text: skipped
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "docs.parquet")
    path = run_spark([str(tmp_path / "docs.parquet")], tmp_path / "out", spark=spark_session, until="documents")
    assert path == tmp_path / "out" / "tmp" / "documents.parquet"
    found = {r["id"]: r for r in pq.read_table(path).to_pylist()}
    assert set(found) == set(texts)
    for name in texts:
        assert found[name]["text"] == load(ROOT / "examples" / f"{name}.txt").text


def _retold(*args: str) -> subprocess.CompletedProcess[str]:
    import sys

    return subprocess.run([sys.executable, "-m", "retold", *args], capture_output=True, text=True, timeout=600,
                          cwd=ROOT, check=False)


def test_retold_scan_engine_spark_matches_retold_scan_of_a_store(spark_session, tmp_path: Path) -> None:
    """The CLI path: ``retold scan --engine spark INPUT... --out`` against ``retold index add`` + ``retold scan``."""
    import pyarrow.parquet as pq

    from retold.scan import EDGE_COLUMNS

    inputs = str(ROOT / "examples")
    added = _retold("index", "add", str(tmp_path / "store"), inputs, "--quiet")
    assert added.returncode == 0, added.stderr
    local = _retold("scan", str(tmp_path / "store"), "--out", str(tmp_path / "local"), "--no-compares", "--quiet")
    assert local.returncode == 0, local.stderr
    spark = _retold("scan", "--engine", "spark", inputs, "--out", str(tmp_path / "spark"), "--master", "local[2]",
                    "--shuffle-partitions", "2")
    assert spark.returncode == 0, spark.stderr
    assert "documents on Spark" in spark.stderr and "edges" in spark.stderr
    tables = {name: pq.read_table(tmp_path / name / "edges.parquet") for name in ("local", "spark")}
    assert tuple(tables["spark"].column_names) == tuple(tables["local"].column_names) == EDGE_COLUMNS
    local_rows = {_key(r): r for r in tables["local"].to_pylist()}
    spark_rows = {_key(r): r for r in tables["spark"].to_pylist()}
    assert set(spark_rows) == set(local_rows) and len(local_rows) >= 2  # the two example rewrites
    for pair, row in local_rows.items():
        assert spark_rows[pair]["probability"] == pytest.approx(row["probability"], abs=1e-3)
        assert spark_rows[pair]["type"] == row["type"]
    assert _same_pairs(tmp_path / "local", tmp_path / "spark") > 0


@pytest.mark.parametrize(("args", "message"), [
    (["--engine", "spark", "examples"], "--engine spark needs --out DIR"),
    (["--engine", "spark", "examples", "--out", "OUT", "--restart"], "--restart: only with --engine local"),
    (["--engine", "spark", "examples", "--out", "OUT", "--workers", "2"], "--workers: only with --engine local"),
    (["--engine", "spark", "examples", "--out", "OUT", "--json", "--until", "pairs"], "cannot be combined"),
    (["STORE", "--master", "local[2]"], "--master: only with --engine spark"),
    (["STORE", "--until", "pairs"], "--until: only with --engine spark"),
    (["a.jsonl", "b.jsonl", "--out", "OUT"], "--engine local scans one STORE, got 2 paths"),
], ids=["spark-without-out", "spark-restart", "spark-workers", "spark-json-until", "local-master", "local-until",
        "local-many-paths"])
def test_retold_scan_refuses_options_of_the_other_engine(args: list[str], message: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from retold.cli import main

    assert main(["scan", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("retold: error: ") and message in err


def test_retold_scan_engine_spark_refuses_a_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from retold.cli import main

    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "store.sqlite").write_bytes(b"")
    assert main(["scan", "--engine", "spark", str(tmp_path / "store"), "--out", str(tmp_path / "out")]) == 2
    assert "is a store" in capsys.readouterr().err
