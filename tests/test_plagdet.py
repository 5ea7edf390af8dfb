"""PAN measures on hand-made cases; every expected value is worked out in the comment above it.

Annotations are (this_offset, this_length, source_offset, source_length).
"""

from __future__ import annotations

import math

import pytest

from retold.eval.plagdet import PanScore, overlaps, plagdet_score, score


def test_perfect_detection_scores_one() -> None:
    # one case, detected exactly: recall = precision = 200/200, granularity 1, plagdet 1
    s = score({"p": [(10, 100, 20, 100)]}, {"p": [(10, 100, 20, 100)]})
    assert s == PanScore(1.0, 1.0, 1.0, 1.0, cases=1, detections=1)


def test_half_covered_case() -> None:
    # case 100+100 chars; detection covers the first 50 on both sides:
    # recall = (50 + 50) / 200 = 0.5; precision = 100 / 100 = 1; granularity 1
    # plagdet = F1 = 2 * 0.5 * 1 / 1.5 = 2/3, divided by log2(2) = 1
    s = score({"p": [(0, 100, 0, 100)]}, {"p": [(0, 50, 0, 50)]})
    assert s.recall == 0.5
    assert s.precision == 1.0
    assert s.granularity == 1.0
    assert s.plagdet == pytest.approx(2 / 3)


def test_case_split_in_two_detections() -> None:
    # two detections cover the two halves: recall 1, precision 1, granularity 2
    # plagdet = 1 / log2(1 + 2) = 0.6309297...
    s = score(
        {"p": [(0, 100, 1000, 100)]},
        {"p": [(0, 50, 1000, 50), (50, 50, 1050, 50)]},
    )
    assert (s.recall, s.precision, s.granularity) == (1.0, 1.0, 2.0)
    assert s.plagdet == pytest.approx(1 / math.log2(3))
    assert s.plagdet == pytest.approx(0.63092975)


def test_false_positive_detection_in_pair_without_case() -> None:
    # pair p1: case detected exactly (case recall 1, detection precision 1)
    # pair p2: no case, one detection (its precision 0)
    # recall = 1/1 = 1; precision = (1 + 0) / 2 = 0.5; granularity 1
    # plagdet = 2 * 1 * 0.5 / 1.5 = 2/3
    s = score(
        {"p1": [(0, 100, 0, 100)], "p2": []},
        {"p1": [(0, 100, 0, 100)], "p2": [(0, 100, 0, 100)]},
    )
    assert (s.recall, s.precision, s.granularity) == (1.0, 0.5, 1.0)
    assert s.plagdet == pytest.approx(2 / 3)
    assert (s.cases, s.detections) == (1, 2)


def test_empty_collections_follow_the_official_script() -> None:
    # no cases and no detections: recall = precision = 1, granularity 1, plagdet 1
    assert score({"p": []}, {}) == PanScore(1.0, 1.0, 1.0, 1.0, 0, 0)
    # no cases, some detection: recall = precision = 0, plagdet 0
    s = score({"p": []}, {"p": [(0, 5, 0, 5)]})
    assert (s.recall, s.precision, s.granularity, s.plagdet) == (0.0, 0.0, 1.0, 0.0)
    # cases, no detections: recall = precision = 0, granularity 1, plagdet 0
    s = score({"p": [(0, 5, 0, 5)]}, {"p": []})
    assert (s.recall, s.precision, s.granularity, s.plagdet) == (0.0, 0.0, 1.0, 0.0)


def test_overlap_on_one_side_only_does_not_detect() -> None:
    # the detection covers the case's suspicious chars exactly but points elsewhere in the source:
    # no overlap on the source side, so recall 0, precision 0, granularity 1, plagdet 0
    case, det = (0, 100, 0, 100), (0, 100, 500, 100)
    assert not overlaps(case, det)
    s = score({"p": [case]}, {"p": [det]})
    assert (s.recall, s.precision, s.granularity, s.plagdet) == (0.0, 0.0, 1.0, 0.0)
    # next to a true detection it only costs precision: precision (1 + 0) / 2 = 0.5,
    # recall 1, granularity 1 (the one-sided detection is not counted for the case)
    s = score({"p": [case]}, {"p": [case, det]})
    assert (s.recall, s.precision, s.granularity) == (1.0, 0.5, 1.0)


def test_macro_averaging_over_pairs() -> None:
    # p1: 100+100 case fully detected -> case recall 1
    # p2: 1000+1000 case, detection covers 100+100 of it -> case recall 0.1
    # macro recall = (1 + 0.1) / 2 = 0.55 (micro would be 400 / 2200 = 0.18)
    # precision = (1 + 1) / 2 = 1; plagdet = 2 * 0.55 / 1.55 = 0.7096774...
    s = score(
        {"p1": [(0, 100, 0, 100)], "p2": [(0, 1000, 0, 1000)]},
        {"p1": [(0, 100, 0, 100)], "p2": [(0, 100, 0, 100)]},
    )
    assert s.recall == pytest.approx(0.55)
    assert s.precision == 1.0
    assert s.plagdet == pytest.approx(2 * 0.55 / 1.55)


def test_detection_of_another_pair_does_not_count() -> None:
    # identical offsets, but in another document pair: nothing detected
    s = score({"p1": [(0, 100, 0, 100)], "p2": []}, {"p2": [(0, 100, 0, 100)]})
    assert (s.recall, s.precision, s.plagdet) == (0.0, 0.0, 0.0)


def test_characters_covered_twice_count_once() -> None:
    # case (0,100 | 0,100); detections (0,60 | 0,60) and (40,60 | 40,60) overlap each other:
    # union covers all 200 chars -> recall 1; each detection lies inside the case -> precision 1;
    # both overlap the case -> granularity 2; plagdet = 1 / log2(3)
    s = score({"p": [(0, 100, 0, 100)]}, {"p": [(0, 60, 0, 60), (40, 60, 40, 60)]})
    assert (s.recall, s.precision, s.granularity) == (1.0, 1.0, 2.0)


def test_official_unit_test_values() -> None:
    # from pan13-text-alignment-perfmeasures.py: macro_avg_precision([ann1], [ann3, ann4]) = 0.25
    # ann1 = (0,100|0,100), ann3 = (100,100|100,100) touches nothing -> precision 0,
    # ann4 = (0,200|0,200) covers ann1 -> precision 200/400 = 0.5; mean 0.25.
    # recall: ann4 covers ann1 fully -> 1; granularity: only ann4 overlaps -> 1
    # plagdet = 2 * 0.25 * 1 / 1.25 = 0.4
    ann1, ann3, ann4 = (0, 100, 0, 100), (100, 100, 100, 100), (0, 200, 0, 200)
    s = score({"t": [ann1]}, {"t": [ann3, ann4]})
    assert (s.precision, s.recall, s.granularity) == (0.25, 1.0, 1.0)
    assert s.plagdet == pytest.approx(0.4)
    # plagdet_score(0.25, 0.75, 2) = (2 * .25 * .75 / 1) / log2(3) = 0.375 / 1.58496 = 0.23659865
    assert plagdet_score(0.25, 0.75, 2) == pytest.approx(0.23659865)
    assert plagdet_score(0, 0, 1) == 0.0
    assert plagdet_score(1, 1, 0.5) == 0.0


def test_granularity_over_detected_cases_only() -> None:
    # case A split in 3 detections, case B detected once, case C missed:
    # granularity = (3 + 1) / 2 detected cases = 2
    cases = {"p": [(0, 90, 0, 90), (200, 10, 200, 10), (500, 10, 500, 10)]}
    dets = {
        "p": [(0, 30, 0, 30), (30, 30, 30, 30), (60, 30, 60, 30), (200, 10, 200, 10)]
    }
    assert score(cases, dets).granularity == 2.0


def test_duplicate_annotations_count_once() -> None:
    # the official script reads annotations into sets: a repeated detection is one detection
    s = score({"p": [(0, 10, 0, 10)]}, {"p": [(0, 10, 0, 10), (0, 10, 0, 10)]})
    assert (s.detections, s.granularity, s.plagdet) == (1, 1.0, 1.0)


@pytest.mark.parametrize(
    "bad", [(0, 0, 0, 10), (0, 10, 0, 0), (-1, 10, 0, 10), (0, 10, 0)]
)
def test_invalid_annotations_are_rejected(bad: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="pair 'p'"):
        score({"p": [(0, 10, 0, 10)]}, {"p": [bad]})  # type: ignore[list-item]


def test_to_dict() -> None:
    d = score({"p": [(0, 10, 0, 10)]}, {"p": [(0, 10, 0, 10)]}).to_dict()
    assert d == {
        "precision": 1.0,
        "recall": 1.0,
        "granularity": 1.0,
        "plagdet": 1.0,
        "cases": 1,
        "detections": 1,
    }
