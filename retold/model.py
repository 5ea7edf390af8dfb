"""The records that flow between retold's stages.

All offsets are half-open character offsets ``[start, end)`` into the *normalised* text of a
:class:`Document` (``document.text``), so ``document.text[span.start:span.end]`` is the span.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

Role = Literal["body", "heading", "boilerplate"]
SegmentKind = Literal["paragraph", "sentence"]
AlignmentKind = Literal["verbatim", "near-verbatim", "paraphrase", "condensed"]
ReuseType = Literal[
    "copy",
    "light edit",
    "paraphrase",
    "condensed rewrite",
    "partial reuse",
    "same event",
    "unrelated",
]
Side = Literal["a", "b"]


def text_id(text: str) -> str:
    """Stable document id: the first 16 hex digits of the SHA-256 of the normalised text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Span:
    """A half-open character range ``[start, end)`` in a document's normalised text."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"invalid span [{self.start}, {self.end})")

    def __len__(self) -> int:
        return self.end - self.start

    def slice(self, text: str) -> str:
        """Return ``text[start:end]``."""
        return text[self.start : self.end]


@dataclass(frozen=True)
class Document:
    """One article: normalised text plus what is known about it.

    Attributes:
        text: the normalised text (Unicode NFC, line ends ``\\n``); every offset refers to it.
        id: stable id, the hash of ``text`` unless the input supplied one.
        name: what to call it in messages and reports (a file name, ``-`` or ``<text>``).
        title, url, published, author, site: metadata when the input carried it; ``published``
            is an ISO 8601 date or date-time string.
        format: the input format it was read from (text, markdown, html, json, jsonl, warc).
    """

    text: str
    id: str
    name: str = "<text>"
    title: str | None = None
    url: str | None = None
    published: str | None = None
    author: str | None = None
    site: str | None = None
    format: str = "text"

    @classmethod
    def from_text(cls, text: str, name: str = "<text>", **metadata: str | None) -> Document:
        """Build a document from already-normalised text, with an id derived from the text."""
        return cls(text=text, id=text_id(text), name=name, **metadata)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Segment:
    """A paragraph or a sentence, with its role in the article.

    Attributes:
        kind: ``paragraph`` or ``sentence``.
        role: ``body`` (article content), ``heading`` (headline, section heading) or
            ``boilerplate`` (comment forms, share lines, bylines, cookie notices).
        start, end: character offsets into the document text.
        index: position among the segments of the same kind, from 0.
        paragraph: index of the enclosing paragraph (a paragraph's own index for paragraphs).
    """

    kind: SegmentKind
    role: Role
    start: int
    end: int
    index: int
    paragraph: int

    @property
    def span(self) -> Span:
        return Span(self.start, self.end)


@dataclass(frozen=True)
class Segmentation:
    """Paragraphs and sentences of one document; sentences lie inside paragraphs."""

    paragraphs: tuple[Segment, ...]
    sentences: tuple[Segment, ...]

    def body_sentences(self) -> list[Segment]:
        return [s for s in self.sentences if s.role == "body"]


@dataclass(frozen=True)
class SentenceLink:
    """One derivative sentence explained by one or more source sentences.

    ``score`` is the combined similarity (0..1) of the sentence and its sources;
    ``lexical`` and ``semantic`` are the two kinds of evidence behind it.
    """

    derivative: int
    sources: tuple[int, ...]
    score: float
    lexical: float
    semantic: float


@dataclass(frozen=True)
class Alignment:
    """A derived passage and the source passage(s) it was rewritten from."""

    derivative_spans: tuple[Span, ...]
    source_spans: tuple[Span, ...]
    kind: AlignmentKind
    score: float
    derivative_sentences: tuple[int, ...] = ()
    source_sentences: tuple[int, ...] = ()


@dataclass(frozen=True)
class Added:
    """Derivative text with no support in the source: a whole sentence or a clause inside one."""

    span: Span
    unit: Literal["sentence", "clause"]
    text: str


@dataclass(frozen=True)
class Dropped:
    """Source text with no counterpart in the derivative: a whole paragraph or a sentence."""

    span: Span
    unit: Literal["paragraph", "sentence"]
    text: str


@dataclass(frozen=True)
class Direction:
    """Which side is the source, and why.

    Attributes:
        derivative, source: ``"a"`` or ``"b"`` (the first or second argument of compare).
        confidence: 0.5 means no evidence either way, 1.0 certain.
        evidence: human-readable reasons, strongest first.
    """

    derivative: Side
    source: Side
    confidence: float
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    """Derived or not, how, and in which direction."""

    derived: bool
    probability: float
    type: ReuseType
    direction: Direction


@dataclass(frozen=True)
class Coverage:
    """Share of each side's body characters that take part in an alignment (0..1)."""

    derivative: float
    source: float


@dataclass(frozen=True)
class Fact:
    """One checkable fact in one text: a number, date, name, quote or identifier."""

    kind: str
    text: str
    value: str
    span: Span
    detail: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FactChange:
    """A fact compared across a rewrite.

    ``status`` is ``kept``, ``changed``, ``dropped`` or ``added``; ``change`` says how a changed fact
    changed (value, unit, hedge, entity, date-precision, spelling, quote-altered, quote-not-found,
    quote-paraphrased: a source quotation turned into reported speech, the derivative side being the
    sentence that paraphrases it).
    """

    kind: str
    status: str
    derivative: Fact | None
    source: Fact | None
    change: str | None = None
    detail: str = ""

    @property
    def derivative_mark(self) -> Span | None:
        """Where reports highlight this change in the derivative: a changed or added fact, but not
        the whole sentence that paraphrases a quotation (that one is marked at its source words)."""
        marked = self.status in ("changed", "added") and self.change != "quote-paraphrased"
        return self.derivative.span if self.derivative is not None and marked else None

    @property
    def source_mark(self) -> Span | None:
        """Where reports highlight this change in the source: a changed or dropped fact."""
        return self.source.span if self.source is not None and self.status in ("changed", "dropped") else None


#: How reports title the fact diff of a pair judged not derived, where only shared facts are kept.
SHARED_FACTS_NOTE = "only facts both texts report: they were written separately"


@dataclass(frozen=True)
class CompareResult:
    """Everything ``retold.compare(a, b)`` found, oriented by the verdict's direction.

    ``a`` and ``b`` are the two inputs in the order given. ``derivative``/``source`` name the same
    two documents after the direction was decided (when nothing is derived, ``a`` is treated as the
    candidate derivative). Alignment spans use the derivative's and the source's texts.
    """

    a: Document
    b: Document
    segments_a: Segmentation
    segments_b: Segmentation
    verdict: Verdict
    coverage: Coverage
    alignments: tuple[Alignment, ...]
    links: tuple[SentenceLink, ...]
    dropped: tuple[Dropped, ...]
    added: tuple[Added, ...]
    facts: tuple[FactChange, ...] = ()
    encoder: str = ""
    elapsed_ms: float = 0.0

    @property
    def derivative(self) -> Document:
        return self.a if self.verdict.direction.derivative == "a" else self.b

    @property
    def source(self) -> Document:
        return self.b if self.verdict.direction.derivative == "a" else self.a

    @property
    def derivative_segments(self) -> Segmentation:
        return self.segments_a if self.verdict.direction.derivative == "a" else self.segments_b

    @property
    def source_segments(self) -> Segmentation:
        return self.segments_b if self.verdict.direction.derivative == "a" else self.segments_a

    def to_dict(self) -> dict[str, object]:
        """The result as plain data following ``retold/schemas/compare-1.json``."""
        from .report.json import to_dict

        return to_dict(self)

    def to_json(self, indent: int | None = 2) -> str:
        """The result as JSON text following ``retold/schemas/compare-1.json``."""
        from .report.json import to_json

        return to_json(self, indent=indent)

    def to_html(self) -> str:
        """One self-contained HTML page: both articles side by side, passages linked."""
        from .report.html import to_html

        return to_html(self)

    def _repr_html_(self) -> str:
        return self.to_html()
