"""``compare``: the whole pipeline for two articles (ingest → segment → align → judge → facts).

Example::

    >>> import retold
    >>> result = retold.compare("rewrite.txt", "original.txt")   # doctest: +SKIP
    >>> result.verdict.derived, result.verdict.direction.source   # doctest: +SKIP
    (True, 'b')
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from typing import Sequence, Union

from . import align as align_stage
from . import facts as facts_stage
from .encoders import get_encoder
from .features import shared_rare_words
from .ingest import load
from .judge import JudgeSettings, OrientedEvidence, body_chars, coverage, judge
from .model import CompareResult, Document, FactChange, Segmentation, SentenceLink
from .passages import PassageSettings, detect_passages
from .processes import one_blas_thread
from .segment import SegmentSettings, segment

ArticleInput = Union[str, "os.PathLike[str]", bytes, Document]


@dataclass(frozen=True)
class Settings:
    """All of retold's settings, one frozen dataclass per stage.

    Example::

        >>> from retold import Settings
        >>> from retold.align import AlignSettings
        >>> Settings(align=AlignSettings(encoder="none")).align.encoder
        'none'
    """

    segment: SegmentSettings = field(default_factory=SegmentSettings)
    align: align_stage.AlignSettings = field(default_factory=align_stage.AlignSettings)
    judge: JudgeSettings = field(default_factory=JudgeSettings)
    passages: PassageSettings = field(default_factory=PassageSettings)
    facts: facts_stage.FactSettings = field(default_factory=facts_stage.FactSettings)

    def with_encoder(self, name: str) -> Settings:
        """A copy of these settings using another sentence encoder."""
        return replace(self, align=replace(self.align, encoder=name))


def _to_segment_indices(
    links: Sequence[SentenceLink], derivative_body: Sequence[int], source_body: Sequence[int]
) -> list[SentenceLink]:
    return [
        replace(
            link,
            derivative=derivative_body[link.derivative],
            sources=tuple(source_body[s] for s in link.sources),
        )
        for link in links
    ]


def _orient(
    links: list[SentenceLink],
    derivative: Document,
    source: Document,
    derivative_segments: Segmentation,
    source_segments: Segmentation,
    settings: Settings,
) -> OrientedEvidence:
    alignments = align_stage.group_passages(
        links, derivative.text, source.text, derivative_segments, source_segments, settings.align
    )
    return OrientedEvidence(
        links=tuple(links),
        alignments=tuple(alignments),
        coverage=coverage(links, derivative_segments, source_segments),
        derivative_body_chars=body_chars(derivative_segments),
        source_body_chars=body_chars(source_segments),
    )


@dataclass(frozen=True)
class PairEvidence:
    """What the aligner found for a pair, in both orientations, before any verdict."""

    segments_a: Segmentation
    segments_b: Segmentation
    a_as_derivative: OrientedEvidence
    b_as_derivative: OrientedEvidence


def pair_evidence(a: Document, b: Document, settings: Settings) -> PairEvidence:
    """Segment both documents and link their sentences with each side taken as the derivative."""
    segments_a = segment(a, settings.segment)
    segments_b = segment(b, settings.segment)
    body_a = segments_a.body_sentences()
    body_b = segments_b.body_sentences()
    encoder = get_encoder(settings.align.encoder)
    texts_a = [s.span.slice(a.text) for s in body_a]
    texts_b = [s.span.slice(b.text) for s in body_b]
    evidence = align_stage.sentence_evidence(texts_a, texts_b, encoder)
    transposed = align_stage.SentenceEvidence(
        evidence.lexical.T, evidence.semantic.T, evidence.source_terms, evidence.derivative_terms
    )
    a_ids = [s.index for s in body_a]
    b_ids = [s.index for s in body_b]
    links_a = _to_segment_indices(
        align_stage.rescue_split_sentences(
            align_stage.link_sentences(evidence, settings.align), texts_a, texts_b, encoder, settings.align
        ),
        a_ids,
        b_ids,
    )
    links_b = _to_segment_indices(
        align_stage.rescue_split_sentences(
            align_stage.link_sentences(transposed, settings.align), texts_b, texts_a, encoder, settings.align
        ),
        b_ids,
        a_ids,
    )
    return PairEvidence(
        segments_a=segments_a,
        segments_b=segments_b,
        a_as_derivative=_orient(links_a, a, b, segments_a, segments_b, settings),
        b_as_derivative=_orient(links_b, b, a, segments_b, segments_a, settings),
    )


def _body_text(document: Document, segments: Segmentation) -> str:
    return "\n".join(s.span.slice(document.text) for s in segments.body_sentences())


def detected_chars(derivative: Document, source: Document, settings: PassageSettings) -> int:
    """Characters of ``derivative`` inside the passages :func:`retold.passages.detect_passages`
    finds against ``source``: the judge's lexical second opinion."""
    return sum(len(span) for span, _ in detect_passages(derivative.text, source.text, settings))


def shared_facts(changes: list[FactChange]) -> list[FactChange]:
    """The facts of a fact diff that both texts report (kept or changed).

    Two texts that were not derived one from the other (two reports of one event) each carry
    facts the other lacks; those are not a rewrite's additions or omissions, and a quote missing
    from the other text is no sign that it was invented. Between unrelated articles even the
    shared facts mean nothing, so ``compare`` runs no fact diff there at all.
    """
    return [change for change in changes if change.status in ("kept", "changed")]


def compare_documents(a: Document, b: Document, settings: Settings | None = None) -> CompareResult:
    """Compare two already-loaded documents. See :func:`compare`."""
    with one_blas_thread():
        return _compare_documents(a, b, settings or Settings())


def _compare_documents(a: Document, b: Document, settings: Settings) -> CompareResult:
    started = time.perf_counter()
    found = pair_evidence(a, b, settings)
    verdict = judge(
        found.a_as_derivative,
        found.b_as_derivative,
        a.published,
        b.published,
        lambda: shared_rare_words(_body_text(a, found.segments_a), _body_text(b, found.segments_b)),
        settings.judge,
        lambda side: detected_chars(a, b, settings.passages) if side == "a" else detected_chars(b, a, settings.passages),
    )
    if verdict.direction.derivative == "a":
        oriented, derivative, source = found.a_as_derivative, a, b
        d_seg, s_seg = found.segments_a, found.segments_b
    else:
        oriented, derivative, source = found.b_as_derivative, b, a
        d_seg, s_seg = found.segments_b, found.segments_a
    encoder = get_encoder(settings.align.encoder)
    added = align_stage.find_added(
        oriented.links, derivative.text, source.text, d_seg, s_seg, encoder, settings.align
    )
    dropped = align_stage.find_dropped(oriented.links, source.text, s_seg)
    fact_changes = (
        facts_stage.diff_facts(derivative.text, source.text, d_seg, s_seg, oriented.links, settings.facts)
        if verdict.type != "unrelated"
        else []
    )
    if not verdict.derived:
        fact_changes = shared_facts(fact_changes)
    return CompareResult(
        a=a,
        b=b,
        segments_a=found.segments_a,
        segments_b=found.segments_b,
        verdict=verdict,
        coverage=oriented.coverage,
        alignments=oriented.alignments,
        links=oriented.links,
        dropped=tuple(dropped),
        added=tuple(added),
        facts=tuple(fact_changes),
        encoder=settings.align.encoder,
        elapsed_ms=round((time.perf_counter() - started) * 1000.0, 2),
    )


def compare(a: ArticleInput, b: ArticleInput, settings: Settings | None = None) -> CompareResult:
    """Explain how one article was rewritten from the other (or say that it was not).

    Args:
        a: the first article: a path, ``"-"`` for stdin, article text, bytes or a Document.
        b: the second article, in the same forms.
        settings: stage settings; defaults to ``Settings()``.

    Returns:
        A :class:`~retold.model.CompareResult`: verdict (derived, probability, type, direction),
        coverage, aligned passages, dropped and added parts, and the fact diff.

    Raises:
        InputError: an input is missing, empty, binary, undecodable or not an article.

    Example::

        >>> result = compare("rewrite.txt", "original.txt")   # doctest: +SKIP
        >>> print(result.verdict.type)                         # doctest: +SKIP
        condensed rewrite
    """
    return compare_documents(load(a), load(b), settings)
