"""Tests for retold.report: JSON (against its schema), HTML (structure, escaping) and terminal.

The comparison result is built by hand from a fictional wire story and its rewrite, so every
offset is exact and no other stage is involved.
"""

from __future__ import annotations

import io
import json
import random
import re
from collections import defaultdict
from html.parser import HTMLParser

import pytest
from jsonschema import Draft202012Validator
from rich.console import Console

from retold.model import (
    Added,
    Alignment,
    CompareResult,
    Coverage,
    Direction,
    Document,
    Dropped,
    Fact,
    FactChange,
    Segment,
    Segmentation,
    SentenceLink,
    Span,
    Verdict,
)
from retold.report import render_terminal, to_dict, to_html, to_json
from retold.report.json import SCHEMA_VERSION, load_schema

ANSI = re.compile(r"\x1b\[")

# Paragraphs as (role, sentences); the text is the paragraphs joined by blank lines.
SOURCE_PARAS = [
    ("heading", ["Harbour crane collapse halts the Port of Velmar"]),
    (
        "body",
        [
            (
                "VELMAR \u2014 A 60-metre crane collapsed at the Port of Velmar on Tuesday, injuring three "
                "workers, officials said."
            ),
        ],
    ),
    (
        "body",
        [
            (
                'Port director Anika Rhee said operations would stay suspended "until every crane has '
                'been inspected".'
            ),
            "The port handles 1.2 million containers a year.",
        ],
    ),
    (
        "body",
        [
            "Investigators from the Maritime Safety Board arrived on Wednesday.",
            "The cause of the collapse is not yet known.",
        ],
    ),
    ("boilerplate", ["Share this article"]),
]

DERIVATIVE_PARAS = [
    ("heading", ["Crane falls at Velmar port"]),
    (
        "body",
        [
            (
                "A 60-metre crane collapsed at the Port of Velmar on Tuesday, injuring four workers, "
                "officials said."
            ),
        ],
    ),
    (
        "body",
        [
            (
                'Director Anika Rhee said work would stay suspended "until every crane has been '
                'inspected", a decision unions called overdue.'
            ),
            "The port handles 1.2 million containers a year.",
        ],
    ),
    ("body", ["Local fishermen said the crash could be heard across the bay."]),
    ("boilerplate", ['Comments: <script>alert("x")</script> & share']),
]

ADDED_CLAUSE = ", a decision unions called overdue"
ADDED_SENTENCE = "Local fishermen said the crash could be heard across the bay."


def _build(paras: list[tuple[str, list[str]]]) -> tuple[str, Segmentation]:
    text_parts: list[str] = []
    paragraphs: list[Segment] = []
    sentences: list[Segment] = []
    pos = 0
    for p_index, (role, sents) in enumerate(paras):
        if p_index:
            text_parts.append("\n\n")
            pos += 2
        p_start = pos
        for s_n, sent in enumerate(sents):
            if s_n:
                text_parts.append(" ")
                pos += 1
            sentences.append(Segment("sentence", role, pos, pos + len(sent), len(sentences), p_index))  # type: ignore[arg-type]
            text_parts.append(sent)
            pos += len(sent)
        paragraphs.append(Segment("paragraph", role, p_start, pos, p_index, p_index))  # type: ignore[arg-type]
    return "".join(text_parts), Segmentation(tuple(paragraphs), tuple(sentences))


def _find(text: str, needle: str) -> Span:
    start = text.index(needle)
    return Span(start, start + len(needle))


def make_result(derivative_side: str = "a", derived: bool = True) -> CompareResult:
    """A rewrite (derivative) of a wire story (source), placed as a/b by ``derivative_side``."""
    dtext, dseg = _build(DERIVATIVE_PARAS)
    stext, sseg = _build(SOURCE_PARAS)
    derivative = Document.from_text(dtext, name="rewrite.txt", title="Crane falls at Velmar port")
    source = Document(
        text=stext,
        id="wire-0001",
        name="wire.html",
        title="Harbour crane collapse halts the Port of Velmar",
        url="https://wire.example/velmar-crane",
        published="2031-03-04",
        site="Example Wire",
        format="html",
    )
    ds, ss = dseg.sentences, sseg.sentences
    alignments = (
        Alignment((ds[1].span,), (ss[1].span,), "near-verbatim", 0.93, (1,), (1,)),
        Alignment((ds[2].span,), (ss[2].span,), "paraphrase", 0.81, (2,), (2,)),
        Alignment((ds[3].span,), (ss[3].span,), "verbatim", 1.0, (3,), (3,)),
    )
    links = (
        SentenceLink(1, (1,), 0.93, 0.88, 0.96),
        SentenceLink(2, (2,), 0.81, 0.62, 0.9),
        SentenceLink(3, (3,), 1.0, 1.0, 1.0),
    )
    dropped_span = Span(sseg.paragraphs[3].start, sseg.paragraphs[3].end)
    dropped = (Dropped(dropped_span, "paragraph", dropped_span.slice(stext)),)
    added = (
        Added(_find(dtext, ADDED_CLAUSE), "clause", ADDED_CLAUSE),
        Added(_find(dtext, ADDED_SENTENCE), "sentence", ADDED_SENTENCE),
    )
    facts = (
        FactChange(
            "number",
            "changed",
            Fact("number", "four", "4", _find(dtext, "four")),
            Fact("number", "three", "3", _find(stext, "three")),
            change="value",
            detail="injured workers: 3 in the source, 4 in the rewrite",
        ),
        FactChange(
            "number",
            "kept",
            Fact("number", "1.2 million", "1200000", _find(dtext, "1.2 million")),
            Fact("number", "1.2 million", "1200000", _find(stext, "1.2 million")),
        ),
        FactChange(
            "name",
            "dropped",
            None,
            Fact(
                "name",
                "Maritime Safety Board",
                "Maritime Safety Board",
                _find(stext, "Maritime Safety Board"),
            ),
        ),
        FactChange(
            "name",
            "added",
            Fact("name", "Local fishermen", "fishermen", _find(dtext, "Local fishermen")),
            None,
        ),
    )
    other = "b" if derivative_side == "a" else "a"
    verdict = Verdict(
        derived,
        0.97 if derived else 0.08,
        "condensed rewrite" if derived else "same event",
        Direction(
            derivative_side,  # type: ignore[arg-type]
            other,  # type: ignore[arg-type]
            0.88,
            ("the source names investigators the rewrite lacks", "the source was published first"),
        ),
    )
    docs = (derivative, dseg, source, sseg) if derivative_side == "a" else (source, sseg, derivative, dseg)
    return CompareResult(
        a=docs[0],
        b=docs[2],
        segments_a=docs[1],
        segments_b=docs[3],
        verdict=verdict,
        coverage=Coverage(0.78, 0.61),
        alignments=alignments,
        links=links,
        dropped=dropped,
        added=added,
        facts=facts,
        encoder="test-encoder",
        elapsed_ms=12.34,
    )


@pytest.fixture(params=["a", "b"], ids=["derivative-a", "derivative-b"])
def result(request: pytest.FixtureRequest) -> CompareResult:
    return make_result(request.param)


# --- JSON -----------------------------------------------------------------------------------------


def test_schema_is_valid_draft_2020_12() -> None:
    Draft202012Validator.check_schema(load_schema())


def test_json_validates_against_schema(result: CompareResult) -> None:
    data = json.loads(to_json(result))
    errors = sorted(Draft202012Validator(load_schema()).iter_errors(data), key=str)
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    assert data["schema_version"] == SCHEMA_VERSION == "1.0"
    assert data["tool"]["name"] == "retold"


def test_json_not_derived_validates() -> None:
    data = to_dict(make_result("a", derived=False))
    Draft202012Validator(load_schema()).validate(data)
    assert data["verdict"]["derived"] is False


def test_schema_documents_every_field() -> None:
    def walk(node: object, path: str) -> None:
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                assert "description" in sub, f"{path}.{name} has no description"
            for key, sub in node.items():
                walk(sub, f"{path}.{key}")
        elif isinstance(node, list):
            for i, sub in enumerate(node):
                walk(sub, f"{path}[{i}]")

    walk(load_schema(), "$")


def test_json_spans_slice_the_right_text(result: CompareResult) -> None:
    data = to_dict(result)
    der = data["documents"][data["derivative"]]["text"]
    src = data["documents"][data["source"]]["text"]
    assert data["derivative"] == result.verdict.direction.derivative
    assert data["verdict"]["direction"]["label"] == f"{data['derivative']}<-{data['source']}"
    assert der == result.derivative.text and src == result.source.text
    first = data["alignments"][0]
    assert der[first["derivative_spans"][0]["start"] : first["derivative_spans"][0]["end"]].startswith(
        "A 60-metre crane"
    )
    assert src[first["source_spans"][0]["start"] : first["source_spans"][0]["end"]].startswith("VELMAR")
    for item in data["added"]:
        assert der[item["start"] : item["end"]] == item["text"]
    assert data["added"][0]["text"] == ADDED_CLAUSE
    for item in data["dropped"]:
        assert src[item["start"] : item["end"]] == item["text"]
    for fact in data["facts"]:
        for side, text in (("derivative", der), ("source", src)):
            if fact[side] is not None:
                assert text[fact[side]["start"] : fact[side]["end"]] == fact[side]["text"]
    changed = next(f for f in data["facts"] if f["status"] == "changed")
    assert (changed["derivative"]["text"], changed["source"]["text"]) == ("four", "three")
    for side in ("a", "b"):
        doc = data["documents"][side]
        for seg in doc["segments"]:
            assert 0 <= seg["start"] <= seg["end"] <= len(doc["text"])
    assert [a["id"] for a in data["alignments"]] == [0, 1, 2]


def test_json_has_no_colour_codes(result: CompareResult) -> None:
    text = to_json(result)
    assert not ANSI.search(text) and "\x1b" not in text
    assert "\n" in text  # indented by default
    assert "\n" not in to_json(result, indent=None)


# --- HTML -----------------------------------------------------------------------------------------

VOID = {"meta", "br", "hr", "img", "input", "link", "col", "wbr", "source", "area", "base"}


class _ReportParser(HTMLParser):
    """Checks tag balance and collects, per article side, the text of each aligned passage."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.errors: list[str] = []
        self.side: str | None = None
        self.article_depth = 0
        self.passages: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
        self.heads: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.article_text: dict[str, list[str]] = defaultdict(list)
        self.articles_closed: list[str] = []
        self.scripts_in_articles = 0
        self.legend = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if attr.get("id") == "legend":
            self.legend = True
        if tag in VOID:
            return
        if tag == "article":
            self.side = attr.get("data-side")
            self.article_depth = len(self.stack)
        elif self.side is not None and tag == "script":
            self.scripts_in_articles += 1
        if self.side is not None:
            for head in (attr.get("data-head") or "").split():
                self.heads[self.side][int(head)] += 1
        self.stack.append((tag, attr))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1][0] != tag:
            self.errors.append(f"unexpected </{tag}> with open {[t for t, _ in self.stack]}")
            return
        self.stack.pop()
        if tag == "article" and self.side is not None:
            if len(self.stack) != self.article_depth:
                self.errors.append("article closed at the wrong depth")
            self.articles_closed.append(self.side)
            self.side = None

    def handle_data(self, data: str) -> None:
        if self.side is None:
            return
        self.article_text[self.side].append(data)
        for _, attr in self.stack:
            for aln in (attr.get("data-aln") or "").split():
                self.passages[self.side][int(aln)].append(data)


def _parse(page: str) -> _ReportParser:
    parser = _ReportParser()
    parser.feed(page)
    parser.close()
    assert not parser.errors, parser.errors
    assert not parser.stack, f"unclosed tags: {[t for t, _ in parser.stack]}"
    return parser


def test_html_is_well_formed_and_links_passages(result: CompareResult) -> None:
    page = to_html(result)
    parser = _parse(page)
    der, src = result.verdict.direction.derivative, result.verdict.direction.source
    assert sorted(parser.articles_closed) == ["a", "b"]
    assert page.index(f'<article class="article" data-side="{der}"') < page.index(
        f'<article class="article" data-side="{src}"'
    )  # derivative on the left
    for i, aln in enumerate(result.alignments):
        want_der = "".join(s.slice(result.derivative.text) for s in aln.derivative_spans)
        want_src = "".join(s.slice(result.source.text) for s in aln.source_spans)
        assert "".join(parser.passages[der][i]) == want_der
        assert "".join(parser.passages[src][i]) == want_src
        # each passage starts exactly once per side, and both sides carry the same id
        assert parser.heads[der][i] == len(aln.derivative_spans) == 1
        assert parser.heads[src][i] == len(aln.source_spans) == 1
    assert parser.legend


def test_html_escapes_article_text(result: CompareResult) -> None:
    page = to_html(result)
    parser = _parse(page)
    assert '<script>alert("x")</script>' not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; share" in page
    assert parser.scripts_in_articles == 0
    assert page.count("<script>") == 1  # only the page's own inline script
    der = result.verdict.direction.derivative
    assert '<script>alert("x")</script> & share' in "".join(parser.article_text[der])


def test_html_marks_nested_clause_facts_and_roles(result: CompareResult) -> None:
    page = to_html(result)
    _parse(page)
    # the added clause sits inside aligned passage 1 and keeps both marks
    clause = re.search(
        r'<span class="label added-start"[^>]*></span><span class="([^"]*)"[^>]*>'
        + re.escape(ADDED_CLAUSE)
        + "</span>",
        page,
    )
    assert clause and {"aln", "added"} <= set(clause.group(1).split())
    assert "added sentence: no support in source" in page
    assert 'class="dropped"' in page and "dropped paragraph" in page
    assert re.search(r'<span class="[^"]*fact-changed[^"]*"[^>]*title="[^"]*three[^"]*four', page)
    assert '<p class="para heading">' in page and '<p class="para boilerplate">' in page
    assert '<table class="facts">' in page
    table = page[page.index('<table class="facts">') :]
    assert table.index("changed") < table.index("kept")
    assert "http" not in page.replace("https://wire.example/velmar-crane", "")  # no external assets


def test_html_header_shows_verdict(result: CompareResult) -> None:
    page = to_html(result)
    assert "Derived</span>" in page and "condensed rewrite" in page
    assert "rewrite.txt" in page and "wire.html" in page and "\u2190" in page
    assert "coverage 78%" in page
    page = to_html(make_result("a", derived=False))
    assert "Not derived" in page and "Only facts both texts report" in page
    _parse(page)


def test_html_survives_overlapping_spans() -> None:
    base = make_result("a")
    n = len(base.derivative.text)
    # passage spans overlapping each other and running across paragraph breaks, plus spans past the end
    extra = (
        Alignment((Span(5, 60),), (Span(0, 40),), "condensed", 0.5),
        Alignment((Span(40, n + 10),), (Span(30, 80),), "paraphrase", 0.4),
    )
    weird = CompareResult(
        **{**base.__dict__, "alignments": base.alignments + extra}  # type: ignore[arg-type]
    )
    parser = _parse(to_html(weird))
    assert "".join(parser.passages["a"][3]) == base.derivative.text[5:60].replace("\n\n", "")


def test_html_screenshot_file(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Writes the page for a manual look (e.g. headless Chromium); asserts only that it exists."""
    path = tmp_path_factory.mktemp("report") / "report_test.html"
    path.write_text(to_html(make_result("a")), encoding="utf-8")
    assert path.stat().st_size > 1000


# --- terminal -------------------------------------------------------------------------------------


def _render(result: CompareResult, **kwargs: object) -> str:
    console = Console(record=True, width=120, **kwargs)  # type: ignore[arg-type]
    render_terminal(result, console)
    return console.export_text()


def test_terminal_shows_verdict_and_added_clause(result: CompareResult) -> None:
    text = _render(result)
    der, src = result.verdict.direction.derivative, result.verdict.direction.source
    first = text.splitlines()[0]
    assert (
        first
        == f"DERIVED  {der} \u2190 {src}  (p=0.97, condensed rewrite, coverage 78% of {der} / 61% of {src})"
    )
    assert "decision unions called" in text  # the clause, possibly wrapped
    assert "Local fishermen said" in text
    assert "Investigators from the Maritime Safety Board" in text
    assert "the source names investigators" in text
    # the report lists the facts that differ, changed first, and counts the kept ones
    facts = text[text.index("Facts (3) \u2014 1 kept facts not listed") :]
    assert facts.index("changed") < facts.index("dropped") and "1.2 million" not in facts
    assert max(len(line) for line in text.splitlines()) <= 120


def test_terminal_fact_diff_on_a_narrow_console_is_a_list() -> None:
    console = Console(record=True, width=80)
    render_terminal(make_result("a"), console, facts_only=True)  # `retold facts`: kept facts listed too
    text = console.export_text()
    facts = text[text.index("Facts (4)") :]
    assert "\u2500" not in facts  # no table rules
    assert "1.2 million \u2190 1.2 million" in facts  # a kept fact, both sides on one entry
    assert facts.index("changed") < facts.index("kept")


def test_terminal_not_derived_and_no_color() -> None:
    text = _render(make_result("a", derived=False), no_color=True)
    assert text.startswith("NOT DERIVED  a \u2190 b  (p=0.08, same event")
    flat = re.sub(r"\s+", " ", text)
    # without colour each highlight keeps its own brackets, and a legend names them
    assert "{+, a decision unions called overdue+}" in flat
    assert "Marks: {+added clause+}" in flat and "[~changed fact~]" in flat
    # a pair that is not derived has no source to drop from or add to: its sides are candidates
    assert "Only in the candidate derivative (" in text and "Added in the derivative" not in text
    assert "Candidate orientation (not derived)" in text and "(candidate source)" in text
    assert "only facts both texts report" in text  # the fact table says why it is short
    out = io.StringIO()
    render_terminal(make_result("a"), Console(file=out, width=120, no_color=True, force_terminal=True))
    styled = out.getvalue()
    assert "\x1b[1m" in styled  # still bold: no_color keeps emphasis...
    assert not re.search(
        r"\x1b\[(?:[0-9]+;)*(?:3[0-8]|4[0-8]|9[0-7])(?:;[0-9]+)*m", styled
    )  # ...but no colours


def test_terminal_text_cannot_inject_markup() -> None:
    base = make_result("a")
    text = base.derivative.text.replace("Local fishermen", "[bold]Local\x1b[31m fishermen")
    doc = Document.from_text(text, name="evil.txt")
    shift = len("[bold]") + len("\x1b[31m")
    added = tuple(
        Added(a.span, a.unit, a.text)
        if a.unit == "clause"
        else Added(Span(a.span.start, a.span.end + shift), a.unit, text[a.span.start : a.span.end + shift])
        for a in base.added
    )
    evil = CompareResult(**{**base.__dict__, "a": doc, "added": added, "facts": ()})  # type: ignore[arg-type]
    out = _render(evil)
    assert "[bold]Local[31m fishermen" in out
    assert "\x1b" not in out


def test_public_exports() -> None:
    from retold import report

    assert sorted(report.__all__) == ["render_terminal", "to_dict", "to_html", "to_json"]


def test_html_random_spans_stay_well_formed() -> None:
    """Random, overlapping, out-of-range spans over text full of markup characters."""
    rng = random.Random(7)
    base = make_result("a")
    for _ in range(60):
        n = rng.randint(0, 120)
        text = "".join(rng.choice("ab <>&\"'\n.") for _ in range(n))

        def span(n: int = n) -> Span:
            start = rng.randint(0, n)
            return Span(start, rng.randint(start, n + 3))

        paragraphs = tuple(
            Segment("paragraph", rng.choice(["body", "heading", "boilerplate"]), s.start, s.end, i, i)  # type: ignore[arg-type]
            for i, s in enumerate(span() for _ in range(rng.randint(0, 4)))
        )
        sentences = tuple(
            Segment("sentence", rng.choice(["body", "heading", "boilerplate"]), s.start, s.end, i, 0)  # type: ignore[arg-type]
            for i, s in enumerate(span() for _ in range(rng.randint(0, 4)))
        )
        seg = Segmentation(paragraphs, sentences)
        doc = Document.from_text(text, name="x<y>.txt")
        fact = FactChange(
            "number", "changed", Fact("n", "<b>", "1", span()), Fact("n", "&", "2", span()), "value"
        )
        result = CompareResult(
            **{  # type: ignore[arg-type]
                **base.__dict__,
                "a": doc,
                "b": doc,
                "segments_a": seg,
                "segments_b": seg,
                "alignments": tuple(
                    Alignment((span(), span()), (span(),), "paraphrase", 0.5)
                    for _ in range(rng.randint(0, 4))
                ),
                "added": tuple(Added(span(), "clause", "x") for _ in range(rng.randint(0, 3))),
                "dropped": tuple(Dropped(span(), "sentence", "x") for _ in range(rng.randint(0, 3))),
                "facts": (fact,),
            }
        )
        parser = _parse(to_html(result))
        for side in "ab":  # every visible character of the text is shown exactly once
            shown = "".join(parser.article_text[side])
            assert sorted(shown.replace("\n", "").replace(" ", "")) == sorted(
                text.replace("\n", "").replace(" ", "")
            )
        render_terminal(result, Console(file=io.StringIO(), width=120))
