"""PAN text-alignment measures: macro precision, macro recall, granularity and plagdet.

This is our own implementation of the measures of Potthast et al. (2010), "An Evaluation Framework
for Plagiarism Detection" (COLING 2010), written to agree number for number with the official
PAN 2013 script ``pan13-text-alignment-perfmeasures.py`` (version 1.3, macro-averaged mode).

An *annotation* is a 4-tuple ``(this_offset, this_length, source_offset, source_length)`` of
character offsets into one (suspicious, source) document pair. Truth annotations are *cases*,
a detector's annotations are *detections*. Both are given per pair, keyed by any hashable pair key
(the runner uses ``(suspicious_name, source_name)``); annotations of different pairs never touch.

Definitions, as in the official script:

* A detection *detects* a case when they overlap on **both** sides: half-open ranges
  ``[offset, offset + length)`` intersect in the suspicious document and in the source document.
  Overlap on one side only does not count.
* Case recall = characters of the case (suspicious side plus source side) covered by the detections
  that detect it, over ``this_length + source_length``. Characters covered by several detections
  count once. Macro recall = the mean case recall over **all** cases of all pairs (cases that no
  detection touches contribute 0).
* Precision is the same computation with the roles swapped: the mean over all detections of the
  share of the detection's characters (both sides) covered by the cases it overlaps.
* Edge cases: with no cases and no detections at all, recall = precision = 1. With cases but no
  detections, or detections but no cases, recall = precision = 0 (so a collection without cases
  scores plagdet 1 only when nothing was detected).
* Granularity = mean number of detections per *detected* case (cases with at least one detection);
  1 when there are no detections or no detected case.
* plagdet = F1(precision, recall) / log2(1 + granularity); 0 when precision and recall are both 0.
* Like the official script, which reads annotations into Python sets, identical annotations of the
  same pair count once.

Unlike the official script (which loads whole folders), :func:`score` takes the pairs explicitly,
so a category or a sample is scored by passing only its pairs. Pairs without cases still matter:
their detections are false positives that lower precision.

Example::

    >>> s = score({"p": [(0, 100, 0, 100)]}, {"p": [(0, 50, 0, 50)]})
    >>> (s.precision, s.recall, s.granularity, round(s.plagdet, 4))
    (1.0, 0.5, 1.0, 0.6667)
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import asdict, dataclass

__all__ = ["Annotation", "PanScore", "overlaps", "plagdet_score", "score"]

Annotation = tuple[int, int, int, int]
"""``(this_offset, this_length, source_offset, source_length)`` in characters."""


@dataclass(frozen=True)
class PanScore:
    """PAN text-alignment scores of a set of detections against a set of cases.

    Attributes:
        precision: macro-averaged character precision (0..1).
        recall: macro-averaged character recall (0..1).
        granularity: mean number of detections per detected case (>= 1).
        plagdet: ``F1(precision, recall) / log2(1 + granularity)`` (0..1).
        cases: number of distinct cases scored.
        detections: number of distinct detections scored.
    """

    precision: float
    recall: float
    granularity: float
    plagdet: float
    cases: int
    detections: int

    def to_dict(self) -> dict[str, float | int]:
        """The scores as a JSON-ready dict."""
        return asdict(self)


def overlaps(a: Annotation, b: Annotation) -> bool:
    """True when ``a`` and ``b`` overlap on both the suspicious and the source side."""
    return (
        b[0] + b[1] > a[0]
        and b[0] < a[0] + a[1]
        and b[2] + b[3] > a[2]
        and b[2] < a[2] + a[3]
    )


def plagdet_score(recall: float, precision: float, granularity: float) -> float:
    """Combine recall, precision and granularity as PAN does.

    Returns 0 when both recall and precision are 0, or when a value is out of range
    (negative recall or precision, granularity below 1), as the official script does.
    """
    if (
        (recall == 0 and precision == 0)
        or recall < 0
        or precision < 0
        or granularity < 1
    ):
        return 0.0
    f1 = 2 * recall * precision / (recall + precision)
    return f1 / math.log2(1 + granularity)


def score(
    cases_by_pair: Mapping[Hashable, Iterable[Annotation]],
    detections_by_pair: Mapping[Hashable, Iterable[Annotation]],
) -> PanScore:
    """Score detections against cases with the PAN 2013 text-alignment measures.

    Args:
        cases_by_pair: truth annotations per document pair; a pair may map to no cases.
        detections_by_pair: detections per document pair; pairs missing from either mapping
            have no annotations of that kind.

    Returns:
        The macro precision and recall, granularity, plagdet and the counts.

    Raises:
        ValueError: an annotation that is not four integers, has a negative offset, or has a
            length below 1 on either side (the official script is undefined for those).

    Example::

        >>> score({"p": [(0, 10, 0, 10)]}, {"p": [(0, 10, 0, 10)]}).plagdet
        1.0
    """
    cases = {key: _distinct(key, anns) for key, anns in cases_by_pair.items()}
    detections = {key: _distinct(key, anns) for key, anns in detections_by_pair.items()}
    n_cases = sum(len(v) for v in cases.values())
    n_detections = sum(len(v) for v in detections.values())

    recall = _macro_coverage(cases, detections, n_cases, n_detections)
    precision = _macro_coverage(detections, cases, n_detections, n_cases)
    granularity = _granularity(cases, detections, n_detections)
    return PanScore(
        precision=precision,
        recall=recall,
        granularity=granularity,
        plagdet=plagdet_score(recall, precision, granularity),
        cases=n_cases,
        detections=n_detections,
    )


def _distinct(key: Hashable, annotations: Iterable[Annotation]) -> list[Annotation]:
    """Validate the annotations of one pair and drop exact duplicates (keeping order)."""
    seen: dict[Annotation, None] = {}
    for ann in annotations:
        ann = tuple(ann)  # type: ignore[assignment]
        if len(ann) != 4 or not all(isinstance(v, int) for v in ann):
            raise ValueError(f"pair {key!r}: annotation {ann!r} is not four integers")
        if ann[0] < 0 or ann[2] < 0 or ann[1] < 1 or ann[3] < 1:
            raise ValueError(
                f"pair {key!r}: annotation {ann!r} needs offsets >= 0 and lengths >= 1 on both sides"
            )
        seen.setdefault(ann, None)
    return list(seen)


def _macro_coverage(
    targets: Mapping[Hashable, list[Annotation]],
    others: Mapping[Hashable, list[Annotation]],
    n_targets: int,
    n_others: int,
) -> float:
    """Mean share of each target's characters covered by the others that overlap it.

    With targets = cases this is macro recall; with targets = detections, macro precision.
    """
    if n_targets == 0 and n_others == 0:
        return 1.0
    if n_targets == 0 or n_others == 0:
        return 0.0
    total = 0.0
    for key, anns in targets.items():
        candidates = others.get(key, ())
        if not candidates:
            continue
        for target in anns:
            hits = [o for o in candidates if overlaps(target, o)]
            if hits:
                total += _covered_chars(target, hits) / (target[1] + target[3])
    return total / n_targets


def _covered_chars(target: Annotation, hits: list[Annotation]) -> int:
    """Characters of ``target`` (both sides) inside at least one of ``hits``."""
    covered = 0
    for off, length in ((0, 1), (2, 3)):
        start, end = target[off], target[off] + target[length]
        clipped = sorted(
            (max(start, h[off]), min(end, h[off] + h[length])) for h in hits
        )
        run_start, run_end = clipped[0]
        for s, e in clipped[1:]:
            if s > run_end:
                covered += max(0, run_end - run_start)
                run_start, run_end = s, e
            else:
                run_end = max(run_end, e)
        covered += max(0, run_end - run_start)
    return covered


def _granularity(
    cases: Mapping[Hashable, list[Annotation]],
    detections: Mapping[Hashable, list[Annotation]],
    n_detections: int,
) -> float:
    if n_detections == 0:
        return 1.0
    detected_cases = 0
    detections_of_detected = 0
    for key, anns in cases.items():
        dets = detections.get(key, ())
        for case in anns:
            n = sum(1 for d in dets if overlaps(case, d))
            if n:
                detected_cases += 1
                detections_of_detected += n
    if detected_cases == 0:
        return 1.0
    return detections_of_detected / detected_cases
