"""The judge stage: derived or not (a calibrated probability), the reuse type, and the direction.

The probability is a logistic model over a few alignment features, and the length of what the
PAN-style passage detector (:mod:`retold.passages`) finds as a lexical second opinion; its
coefficients are fitted on labelled real pairs by ``scripts/fit_judge.py`` (PAN 2013 training
pairs, byte-identical and unrelated BBC articles, same-topic BBC articles as hard negatives) and
shipped in ``retold/data/judge.json`` together with the calibration error measured on held-out
pairs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from importlib import resources
from itertools import pairwise

from .errors import ModelError
from .model import (
    Alignment,
    Coverage,
    Direction,
    ReuseType,
    Segmentation,
    SentenceLink,
    Side,
    Verdict,
)

FEATURE_NAMES = (
    "coverage_derivative",
    "coverage_source",
    "mean_link_score",
    "log_aligned_chars",
    "longest_passage_share",
    "verbatim_share",
    "log_longest_passage_chars",
    "log_ordered_links",
    "log_links",
    "log_detected_chars",
)


@dataclass(frozen=True)
class JudgeSettings:
    """Settings of the judge.

    Attributes:
        derived_probability: the verdict says "derived" at or above this probability.
        same_event_overlap: when not derived, texts that share at least this much rare vocabulary
            (:func:`retold.features.shared_rare_words`) report the same event; else unrelated.
        copy_share: share of aligned text that must be verbatim for a "copy".
        light_edit_share: share of aligned text verbatim or near-verbatim for a "light edit".
        partial_coverage: below this derivative coverage the reuse is "partial reuse".
        condensed_length_ratio: a derivative shorter than this share of its source is "condensed".
        direction_min_confidence: below this confidence the texts' own evidence is too weak to turn
            the question round, and the first text stays the candidate derivative.
    """

    derived_probability: float = 0.5
    same_event_overlap: float = 0.2
    copy_share: float = 0.9
    light_edit_share: float = 0.7
    partial_coverage: float = 0.5
    condensed_length_ratio: float = 0.8
    direction_min_confidence: float = 0.6


@dataclass(frozen=True)
class OrientedEvidence:
    """What the aligner found with one side taken as the derivative."""

    links: tuple[SentenceLink, ...]
    alignments: tuple[Alignment, ...]
    coverage: Coverage
    derivative_body_chars: int
    source_body_chars: int


def body_chars(segments: Segmentation) -> int:
    return sum(len(s.span) for s in segments.body_sentences())


def coverage(
    links: Sequence[SentenceLink], derivative_segments: Segmentation, source_segments: Segmentation
) -> Coverage:
    """Share of body characters on each side that take part in a link."""
    d_total = body_chars(derivative_segments)
    s_total = body_chars(source_segments)
    d_used = sum(len(derivative_segments.sentences[link.derivative].span) for link in links)
    s_ids = {s for link in links for s in link.sources}
    s_used = sum(len(source_segments.sentences[s].span) for s in s_ids)
    return Coverage(
        derivative=round(d_used / d_total, 4) if d_total else 0.0,
        source=round(s_used / s_total, 4) if s_total else 0.0,
    )


def features(evidence: OrientedEvidence, detected_chars: int) -> list[float]:
    """The judge's feature vector (see FEATURE_NAMES).

    ``detected_chars``: derivative characters inside the passages that
    :func:`retold.passages.detect_passages` finds with the same orientation. The detector sees
    reuse that sentence links spread thin, a summary paragraph inside a long page for one, and
    rarely fires on unrelated texts (5 of 1,000 PAN no-plagiarism pairs).
    """
    aligned_chars = sum(len(span) for a in evidence.alignments for span in a.derivative_spans)
    longest = max((sum(len(span) for span in a.derivative_spans) for a in evidence.alignments), default=0)
    verbatim = sum(
        len(span) for a in evidence.alignments if a.kind in ("verbatim", "near-verbatim") for span in a.derivative_spans
    )
    links = evidence.links
    mean_score = sum(link.score for link in links) / len(links) if links else 0.0
    return [
        evidence.coverage.derivative,
        evidence.coverage.source,
        mean_score,
        math.log1p(aligned_chars),
        longest / max(1, evidence.derivative_body_chars),
        verbatim / max(1, aligned_chars),
        math.log1p(longest),
        math.log1p(_ordered_links(evidence.links)),
        math.log1p(len(evidence.links)),
        math.log1p(detected_chars),
    ]


def _ordered_links(links: Sequence[SentenceLink]) -> int:
    """Links whose next link continues nearby in the source: reuse keeps local order, chance
    similarities between two texts on one topic scatter."""
    return sum(
        1
        for first, second in pairwise(links)
        if min(abs(s - t) for s in second.sources for t in first.sources) <= 3
    )


@lru_cache(maxsize=1)
def _model() -> dict[str, object]:
    path = resources.files("retold") / "data" / "judge.json"
    model: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    if model.get("features") != list(FEATURE_NAMES):
        raise ModelError("judge.json: its features do not match this version of retold (run scripts/fit_judge.py)")
    return model


def probability(feature_vector: Sequence[float]) -> float:
    """Calibrated probability that the derivative was derived from the source."""
    model = _model()
    mean = model["mean"]
    scale = model["scale"]
    coef = model["coef"]
    z = float(model["intercept"])  # type: ignore[arg-type]
    for x, m, s, c in zip(feature_vector, mean, scale, coef):  # type: ignore[call-overload]
        z += c * (x - m) / s
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def _parse_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None


def direction(
    a_as_derivative: OrientedEvidence,
    b_as_derivative: OrientedEvidence,
    published_a: str | None,
    published_b: str | None,
    min_confidence: float = 0.6,
    min_coverage: float = 0.5,
) -> Direction:
    """Decide which side is the source: publication dates when both are known and differ, else
    the texts' own evidence (a rewrite is covered by its source more than the other way round,
    and a condensed rewrite is the shorter text). When the less-covered text has under
    ``min_coverage`` of its material in the other, that evidence is weakened by the square of the
    shortfall: a short text excerpted from a long one and a long text quoting a short one then look
    alike. Below ``min_confidence`` the texts say too little, and the first text (a) is kept as the
    candidate derivative, as asked."""
    evidence: list[str] = []
    date_a, date_b = _parse_date(published_a), _parse_date(published_b)
    if date_a and date_b and date_a != date_b:
        later: Side = "a" if date_a > date_b else "b"
        evidence.append(f"published dates: {'a' if later == 'b' else 'b'} ({min(date_a, date_b)}) "
                        f"precedes {later} ({max(date_a, date_b)})")
        return Direction(later, "b" if later == "a" else "a", 0.95, tuple(evidence))
    cov_a = a_as_derivative.coverage.derivative
    cov_b = b_as_derivative.coverage.derivative
    len_a = a_as_derivative.derivative_body_chars
    len_b = b_as_derivative.derivative_body_chars
    margin = cov_a - cov_b
    length_ratio = math.log((len_b + 1) / (len_a + 1))
    z = 4.0 * margin + 2.0 * length_ratio
    least = min(cov_a, cov_b)
    if least < min_coverage:
        z *= (least / min_coverage) ** 2
    confidence_a = 1.0 / (1.0 + math.exp(-z))
    confidence = max(confidence_a, 1.0 - confidence_a)
    # With little evidence either way the question asked stands: is the first text (a) derived?
    derivative: Side = "a" if confidence_a >= 0.5 or confidence < min_confidence else "b"
    evidence.append(
        # each side's coverage when it is read as the derivative; the headline's coverage of the
        # source side is measured the other way round, so the two can differ a little
        f"each taken as the derivative: {cov_a:.0%} of a has a counterpart in b, {cov_b:.0%} of b one in a"
    )
    if abs(length_ratio) > 0.2:
        shorter = "a" if len_a < len_b else "b"
        evidence.append(f"{shorter} is shorter ({min(len_a, len_b)} vs {max(len_a, len_b)} body characters)")
    if least < min_coverage:
        evidence.append(f"{'a' if cov_a < cov_b else 'b'} has much of its own material ({least:.0%} has a "
                        "counterpart): an excerpt and a text quoting it look alike, so this says little")
    if confidence < min_confidence:
        evidence.append("the texts give little evidence of direction: a is taken as the derivative, as asked")
    return Direction(derivative, "b" if derivative == "a" else "a", round(confidence, 4), tuple(evidence))


def reuse_type(
    derived: bool, evidence: OrientedEvidence, shared_rare_words: float, settings: JudgeSettings
) -> ReuseType:
    """Name the kind of reuse (or of non-reuse)."""
    if not derived:
        return "same event" if shared_rare_words >= settings.same_event_overlap else "unrelated"
    aligned = sum(len(span) for a in evidence.alignments for span in a.derivative_spans) or 1
    verbatim = sum(len(span) for a in evidence.alignments if a.kind == "verbatim" for span in a.derivative_spans)
    close = sum(
        len(span) for a in evidence.alignments if a.kind in ("verbatim", "near-verbatim") for span in a.derivative_spans
    )
    if evidence.coverage.derivative >= 0.9 and verbatim / aligned >= settings.copy_share:
        return "copy"
    if evidence.coverage.derivative < settings.partial_coverage:
        return "partial reuse"
    if close / aligned >= settings.light_edit_share:
        return "light edit"
    if evidence.derivative_body_chars < settings.condensed_length_ratio * evidence.source_body_chars:
        return "condensed rewrite"
    return "paraphrase"


def judge(
    a_as_derivative: OrientedEvidence,
    b_as_derivative: OrientedEvidence,
    published_a: str | None,
    published_b: str | None,
    shared_rare_words: Callable[[], float],
    settings: JudgeSettings,
    detected_chars: Callable[[Side], int],
) -> Verdict:
    """The verdict for a pair, from the aligner's evidence in both orientations.

    ``detected_chars(side)`` gives the characters of that side inside the passages the PAN-style
    detector finds with it as the derivative (see :func:`features`); it is called once, for the
    side the direction names. ``shared_rare_words()`` gives the two texts' shared rare vocabulary
    (:func:`retold.features.shared_rare_words`); it is called only when the pair is not derived.
    """
    chosen = direction(
        a_as_derivative, b_as_derivative, published_a, published_b, settings.direction_min_confidence,
        settings.partial_coverage,
    )
    oriented = a_as_derivative if chosen.derivative == "a" else b_as_derivative
    p = probability(features(oriented, detected_chars(chosen.derivative)))
    derived = p >= settings.derived_probability
    return Verdict(
        derived=derived,
        probability=round(p, 4),
        type=reuse_type(derived, oriented, 0.0 if derived else shared_rare_words(), settings),
        direction=chosen,
    )
