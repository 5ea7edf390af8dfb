"""Tests for retold.retrieve and retold.trace on a real store: 300 BBC articles, our four examples,
and a few PAN 2013 source documents for candidate recall.

What a user would notice: tracing the condensed rewrite names the wire story first, derived; the
independent report of the same event is not derived from anything; tracing the wire story says the
rewrites came *from* it; the JSON follows its schema and the HTML embeds the full reports.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from retold.errors import InputError, StoreError
from retold.index import Index
from retold.ingest import load, load_bytes
from retold.model import Document
from retold.report.json import load_schema
from retold.retrieve import RetrieveSettings, candidates, document_features
from retold.trace import trace

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "retold" / "schemas" / "trace-1.json"


@pytest.fixture(scope="module")
def examples() -> dict[str, Document]:
    return {p.stem: load(p) for p in sorted((ROOT / "examples").glob("*.txt"))}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, shared_data: Path, examples: dict[str, Document]) -> Path:
    docs = []
    with (shared_data / "news" / "bbc-2004-2005.jsonl").open("rb") as handle:
        for number, line in zip(range(1, 301), handle):
            docs.append(load_bytes(line, f"bbc-2004-2005.jsonl:{number}", "json"))
    path = tmp_path_factory.mktemp("retrieve") / "store"
    with Index.open(path, create=True) as index:
        index.add(docs + list(examples.values()))
    return path


@pytest.fixture(scope="module")
def index(store: Path):
    with Index.open(store) as opened:
        yield opened


def test_features_are_deterministic() -> None:
    doc = Document.from_text('Tomas Varga said the plan "puts tonnage over the bay" and cost 1.2 billion crowns.')
    settings = RetrieveSettings(encoder="none")
    first, second = document_features(doc, settings), document_features(doc, settings)
    assert (first.minhash == second.minhash).all() and first.terms == second.terms
    assert "name:tomas varga" in first.terms and "num:1200000000" in first.terms
    assert "quote:puts tonnage over the bay" in first.terms and "w:tonna" in first.terms


def test_candidates_find_the_wire_story(index: Index, examples: dict[str, Document]) -> None:
    found = candidates(index, examples["rewrite_condensed"], limit=5)
    assert found[0].doc_id == examples["wire_story"].id
    assert {"lsh", "anchors", "vector"} <= set(found[0].found_by)
    assert "name:tomas varga" in found[0].anchors
    assert examples["rewrite_condensed"].id not in [c.doc_id for c in found]  # never itself
    assert index.lsh_build_s is not None and index.lsh_build_s < 5
    # A paraphrase with no stored twin still reaches the wire story through anchors and vectors.
    retold_text = (
        "Calder Bay's harbour authority has backed a 1.2 billion crown plan to enlarge the container "
        "terminal at Port Ellery. Tomas Varga of the Calder Bay Conservancy said the authority chose "
        "tonnage over the bay, and chair Miriam Okonjo defended the vote."
    )
    found = candidates(index, Document.from_text(retold_text), limit=5)
    assert examples["wire_story"].id in [c.doc_id for c in found[:3]]


def test_trace_condensed_rewrite(index: Index, examples: dict[str, Document]) -> None:
    result = trace(index, examples["rewrite_condensed"], limit=6, compare_top=2)
    best = result.sources[0]
    assert best.doc_id == examples["wire_story"].id
    assert best.derived and best.relation == "source" and best.verdict.type == "condensed rewrite"
    assert best.result is not None and best.result.verdict.direction.source == "b"
    assert result.in_store and all(s.doc_id != examples["rewrite_condensed"].id for s in result.sources)
    independent = next(s for s in result.sources if s.doc_id == examples["independent_report"].id)
    assert not independent.derived and independent.relation == "unrelated"
    assert [s.rank for s in result.sources] == list(range(1, len(result.sources) + 1))
    assert sum(s.result is not None for s in result.sources) == 2


def test_trace_independent_report_is_not_derived(index: Index, examples: dict[str, Document]) -> None:
    result = trace(index, examples["independent_report"], limit=5, compare_top=0)
    assert result.sources and not any(s.derived for s in result.sources)


def test_trace_says_when_the_article_is_the_source(index: Index, examples: dict[str, Document]) -> None:
    result = trace(index, examples["wire_story"], limit=5, compare_top=0)
    relations = {s.doc_id: s.relation for s in result.sources}
    # a close paraphrase of equal length carries no evidence of direction without dates
    assert relations[examples["rewrite_close"].id] in ("derivative", "related")
    assert relations[examples["rewrite_condensed"].id] == "derivative"
    assert not result.derived_sources


def test_trace_json_follows_its_schema(index: Index, examples: dict[str, Document]) -> None:
    result = trace(index, examples["rewrite_condensed"], limit=4, compare_top=1)
    data = json.loads(result.to_json())
    Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8"))).validate(data)
    Draft202012Validator(load_schema()).validate(data["sources"][0]["compare"])
    assert data["sources"][0]["direction"]["source"] == "candidate"
    assert all(s["compare"] is None for s in data["sources"][1:])
    page = result.to_html()
    assert page.count('<details id="compare-') == 1 and 'href="#compare-1"' in page and "srcdoc=" in page


def test_trace_checks_settings(index: Index, examples: dict[str, Document]) -> None:
    with pytest.raises(StoreError, match="num_perm"):
        trace(index, examples["wire_story"], retrieve_settings=RetrieveSettings(num_perm=64))


def _pan(shared_data: Path, category: str, n: int) -> list[tuple[str, str]]:
    lines = (shared_data / "pan13-train" / category / "pairs").read_text().split("\n")
    return [tuple(line.split()) for line in lines if line.strip()][:n]  # type: ignore[misc]


def test_candidate_recall_on_pan_pairs(tmp_path: Path, shared_data: Path) -> None:
    pan = shared_data / "pan13-train"
    pairs = _pan(shared_data, "02-no-obfuscation", 3) + _pan(shared_data, "05-summary-obfuscation", 3)
    names = sorted({source for _, source in pairs} | {p.name for p in sorted((pan / "src").glob("*.txt"))[:60]})
    documents = {}
    for name in names:
        try:
            documents[name] = load(pan / "src" / name)
        except InputError:  # a few PAN files hold control characters
            continue
    with Index.open(tmp_path / "pan", create=True) as index:
        index.add(documents.values())
        ids = {doc.id: name for name, doc in documents.items()}
        found = 0
        for suspicious, source in pairs:
            ranked = [ids[c.doc_id] for c in candidates(index, load(pan / "susp" / suspicious), limit=10)]
            found += source in ranked
    assert found == len(pairs)


def test_a_long_article_built_from_many_sources_finds_them_window_by_window(
    tmp_path: Path, shared_data: Path
) -> None:
    """PAN 2013's suspicious-document00006 reuses short, randomly obfuscated passages of ten
    sources. Searched as a whole it shares too little with some of them; searched window by
    window (the default) eight of the ten are in its top 10, among 60 other PAN sources and 60 BBC
    articles, more than searched whole. (Nine until decision 42 stopped taking capitalised common
    words at sentence starts as name anchors; over the 240 pairs of `bench_pan_retrieval`, window
    recall rose 0.858 -> 0.871 with that change.)"""
    root = shared_data / "pan13-train"
    lines = (root / "03-random-obfuscation" / "pairs").read_text().split()
    pairs = list(zip(lines[0::2], lines[1::2]))
    query_name = "suspicious-document00006.txt"
    sources = [src for susp, src in pairs if susp == query_name]
    others = sorted({src for susp, src in pairs if susp != query_name})[:60]
    docs = [Document(text=(root / "src" / name).read_text(encoding="utf-8"), id=name, name=name)
            for name in sources + others]
    with (shared_data / "news" / "bbc-2004-2005.jsonl").open("rb") as handle:
        docs += [load_bytes(line, f"bbc-2004-2005.jsonl:{n}", "json") for n, line in zip(range(1, 61), handle)]
    query = Document(text=(root / "susp" / query_name).read_text(encoding="utf-8"), id="query", name=query_name)
    with Index.open(tmp_path / "store", create=True) as index:
        index.add(docs, workers=1)
        by_window = [c.doc_id for c in candidates(index, query, limit=10)]
        whole = [c.doc_id for c in candidates(index, query, limit=10, windows=False)]
    assert len(sources) == 10
    assert sum(name in sources for name in by_window) >= 8
    assert sum(name in sources for name in by_window) > sum(name in sources for name in whole)
