"""The align stage on small fictional cases (exact) and on real PAN 2013 pairs (behaviour)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import retold
from retold.align import clause_spans, passage_kind
from retold.passages import detect_passages

SOURCE = (
    "Officials in Tarnby said on Monday that the old ferry pier would close for repairs in May.\n\n"
    "The pier, built in 1931, carries about 4,000 passengers a day to the islands of Vell and Orsa.\n\n"
    "A temporary landing will open at the fish market, the council said, and fares will not change.\n\n"
    "Local shopkeepers worry that fewer visitors will walk past their stores during the summer season.\n\n"
    "The repairs are expected to cost 8 million crowns and take at least five months to complete.\n"
)

REWRITE = (
    "The repairs to Tarnby's ferry pier will cost 8 million crowns and last at least five months.\n\n"
    "The 1931 pier, which carries roughly 4,000 passengers daily to Vell and Orsa, will shut in May, "
    "officials said on Monday.\n\n"
    "A temporary landing is opening at the fish market. Fares stay the same.\n\n"
    "Tarnby's mayor, who was elected in a landslide last spring, has promised a new bridge by 2040.\n"
)


@pytest.fixture(scope="module")
def small_result():
    return retold.compare(REWRITE, SOURCE)


def _source_of(result, phrase):
    derivative, source = result.derivative.text, result.source.text
    for link in result.links:
        sentence = result.derivative_segments.sentences[link.derivative]
        if phrase in derivative[sentence.start : sentence.end]:
            return [source[result.source_segments.sentences[s].start : result.source_segments.sentences[s].end]
                    for s in link.sources]
    return []


def test_reordered_sentence_finds_its_source(small_result):
    sources = _source_of(small_result, "will cost 8 million crowns")
    assert any("expected to cost 8 million crowns" in s for s in sources)


def test_one_sentence_from_two_sources_is_a_merge(small_result):
    sources = _source_of(small_result, "will shut in May")
    assert any("close for repairs in May" in s for s in sources)
    assert any("built in 1931" in s for s in sources)


def test_one_source_sentence_split_in_two(small_result):
    first = _source_of(small_result, "temporary landing is opening")
    second = _source_of(small_result, "Fares stay the same")
    assert first and second and set(first) & set(second)


def test_unsupported_sentence_is_added_and_unused_source_is_dropped(small_result):
    assert any("new bridge by 2040" in a.text for a in small_result.added)
    assert any("shopkeepers" in d.text for d in small_result.dropped)


def test_rewrite_direction(small_result):
    assert small_result.verdict.direction.derivative == "a"


def test_clause_spans_keep_numbers_whole():
    text = "It freed 38 captives, including 30 living people, in exchange for nearly 2,000 prisoners."
    pieces = [text[s.start : s.end] for s in clause_spans(text, 0, len(text))]
    assert "in exchange for nearly 2,000 prisoners" in pieces
    assert "including 30 living people" in pieces


@pytest.mark.parametrize(
    ("derivative", "source", "kind"),
    [
        ("The pier closes in May.", "The pier closes in May.", "verbatim"),
        ("The old pier closes for repairs in May, officials said.",
         "The old pier closes for repairs in May, the officials said.", "near-verbatim"),
        ("Repairs shut the pier.",
         "Officials said on Monday that the old ferry pier would close for repairs in May after years of wear.",
         "condensed"),
    ],
)
def test_passage_kind(derivative, source, kind):
    assert passage_kind(derivative, source) == kind


# --- real PAN 2013 pairs -------------------------------------------------------------------------


def _pan_cases(corpus: Path, category: str, count: int):
    folder = corpus / category
    pairs = [line.split() for line in (folder / "pairs").read_text().splitlines() if line.strip()]
    out = []
    for susp, src in pairs[:count]:
        truth = (folder / f"{Path(susp).stem}-{Path(src).stem}.xml").read_text(encoding="utf-8")
        cases = [
            (int(m["to"]), int(m["tl"]), int(m["so"]), int(m["sl"]))
            for m in re.finditer(
                r'this_offset="(?P<to>\d+)" this_length="(?P<tl>\d+)".*?source_offset="(?P<so>\d+)" '
                r'source_length="(?P<sl>\d+)"',
                truth,
            )
        ]
        read = lambda p: p.read_text(encoding="utf-8")  # noqa: E731
        out.append((read(corpus / "susp" / susp), read(corpus / "src" / src), cases))
    return out


@pytest.mark.parametrize("category", ["02-no-obfuscation", "03-random-obfuscation"])
def test_pan_reuse_is_found_at_its_offsets(shared_data, category):
    for suspicious, source, cases in _pan_cases(shared_data / "pan13-train", category, 3):
        detections = detect_passages(suspicious, source)
        for offset, length, source_offset, source_length in cases:
            hit = [
                (d, s)
                for d, s in detections
                if d.start < offset + length and offset < d.end and s.start < source_offset + source_length
                and source_offset < s.end
            ]
            assert hit, f"case at {offset}+{length} not found"
            covered = sum(min(d.end, offset + length) - max(d.start, offset) for d, _ in hit)
            assert covered / length > 0.6


def test_pan_no_plagiarism_pairs_are_not_derived(shared_data):
    for suspicious, source, _ in _pan_cases(shared_data / "pan13-train", "01-no-plagiarism", 2):
        assert detect_passages(suspicious, source) == []
        result = retold.compare(suspicious, source)
        assert not result.verdict.derived
