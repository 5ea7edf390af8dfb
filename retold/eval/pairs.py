"""Score a pair judge on labelled document pairs: precision, recall, F1, ROC-AUC and calibration.

The input is a CSV file with a header and the columns ``a``, ``b`` and ``label`` (other columns
are ignored). ``a`` and ``b`` are either file paths, relative to the CSV's folder (or absolute),
or the texts themselves: a value that names an existing file is read as UTF-8, anything else is
taken as text. ``label`` is 1/0, true/false or yes/no (1 = derived).

The judge returns the probability that the pair is derived; a pair is predicted derived when the
probability is at least ``threshold`` (0.5 by default). Everything is pure numpy.

Example::

    result = evaluate_pairs("pairs.csv", lambda a, b: compare(a, b).verdict.probability)
    print(result["f1"], result["roc_auc"], result["ece"])
"""

from __future__ import annotations

import csv
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from retold.errors import InputError

__all__ = [
    "average_ranks",
    "evaluate_pairs",
    "expected_calibration_error",
    "precision_recall_f1",
    "read_pairs_csv",
    "roc_auc",
]

logger = logging.getLogger(__name__)

Judge = Callable[[str, str], float]

_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f"}


def average_ranks(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Ranks from 1 to n, ties sharing their average rank (``scipy.stats.rankdata`` 'average')."""
    x = np.asarray(values, dtype=np.float64).ravel()
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    # start index of each run of equal values
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], len(x)]
    run_ranks = (starts + 1 + ends) / 2.0  # mean of ranks starts+1 .. ends
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.repeat(run_ranks, ends - starts)
    return ranks


def roc_auc(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float | None:
    """Area under the ROC curve via the rank-sum (Mann-Whitney U) statistic; ties count half.

    Returns None when only one class is present (the AUC is undefined).
    """
    y = np.asarray(labels).astype(bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = average_ranks(s)
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def expected_calibration_error(
    labels: npt.ArrayLike, probabilities: npt.ArrayLike, bins: int = 10
) -> float:
    """Expected calibration error of the positive-class probability.

    The probabilities are put in ``bins`` equal-width bins over [0, 1] (the last bin includes 1.0);
    ECE = sum over bins of (bin size / n) * |mean probability - share of positives|.
    """
    y = np.asarray(labels, dtype=np.float64).ravel()
    p = np.asarray(probabilities, dtype=np.float64).ravel()
    if len(p) == 0:
        return 0.0
    index = np.minimum((p * bins).astype(int), bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            ece += mask.mean() * abs(p[mask].mean() - y[mask].mean())
    return float(ece)


def precision_recall_f1(
    labels: npt.ArrayLike, predicted: npt.ArrayLike
) -> tuple[float, float, float]:
    """Precision, recall and F1 of boolean predictions; 0 where a denominator is 0."""
    y = np.asarray(labels).astype(bool).ravel()
    yhat = np.asarray(predicted).astype(bool).ravel()
    tp = int((y & yhat).sum())
    fp = int((~y & yhat).sum())
    fn = int((y & ~yhat).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _parse_label(value: str, csv_name: str, line: int) -> int:
    v = value.strip().casefold()
    if v in _TRUE:
        return 1
    if v in _FALSE:
        return 0
    raise InputError(
        csv_name, f"label {value!r} is not 1/0, true/false or yes/no", f"line {line}"
    )


def _resolve(value: str, base: Path) -> str:
    """The file's text when ``value`` names an existing file (relative to ``base``), else value."""
    if value and "\n" not in value and len(value) < 4096:
        candidate = Path(value) if os.path.isabs(value) else base / value
        try:
            if candidate.is_file():
                return candidate.read_text(encoding="utf-8")
        except OSError:
            pass
        except UnicodeDecodeError:
            raise InputError(str(candidate), "not UTF-8") from None
    return value


def read_pairs_csv(csv_path: str | os.PathLike[str]) -> list[tuple[str, str, int]]:
    """Read the labelled pairs of a CSV: ``(text a, text b, label)`` per row.

    Raises:
        InputError: the file is missing, lacks an ``a``, ``b`` or ``label`` column, has a bad
            label, or has no rows.
    """
    path = Path(csv_path)
    name = str(path)
    if not path.is_file():
        raise InputError(name, "file not found")
    rows = []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"a", "b", "label"} - set(reader.fieldnames or ())
        if missing:
            raise InputError(
                name, f"missing column(s): {', '.join(sorted(missing))}", "line 1"
            )
        try:
            for row in reader:
                line = reader.line_num
                a, b, label = row["a"], row["b"], row["label"]
                if a is None or b is None or label is None:
                    raise InputError(name, "row has too few fields", f"line {line}")
                rows.append(
                    (
                        _resolve(a, path.parent),
                        _resolve(b, path.parent),
                        _parse_label(label, name, line),
                    )
                )
        except UnicodeDecodeError as exc:
            raise InputError(name, "not UTF-8", f"byte {exc.start}") from None
    if not rows:
        raise InputError(name, "no rows")
    return rows


def evaluate_pairs(
    csv_path: str | os.PathLike[str],
    judge: Judge,
    threshold: float = 0.5,
    bins: int = 10,
) -> dict[str, Any]:
    """Score ``judge(a, b) -> probability`` on the labelled pairs of a CSV.

    Args:
        csv_path: CSV with columns ``a``, ``b``, ``label`` (see the module docstring).
        judge: returns the probability (0..1) that the pair is derived.
        threshold: probability at or above which a pair counts as predicted derived.
        bins: equal-width bins for the expected calibration error.

    Returns:
        A JSON-ready dict: ``pairs``, ``positives``, ``threshold``, ``precision``, ``recall``,
        ``f1``, ``accuracy``, ``roc_auc`` (None with one class only), ``ece``, ``ece_bins``,
        ``seconds_per_pair``.

    Raises:
        InputError: the CSV cannot be read (see :func:`read_pairs_csv`).
        ValueError: the judge returned something that is not a probability in [0, 1].
    """
    rows = read_pairs_csv(csv_path)
    labels = np.array([label for _, _, label in rows], dtype=np.int64)
    probabilities = np.empty(len(rows), dtype=np.float64)
    started = time.perf_counter()
    for i, (a, b, _) in enumerate(rows):
        p = float(judge(a, b))
        if not 0.0 <= p <= 1.0:  # also rejects NaN
            raise ValueError(
                f"{csv_path} row {i + 1}: judge returned {p!r}, not a probability"
            )
        probabilities[i] = p
    elapsed = time.perf_counter() - started
    predicted = probabilities >= threshold
    precision, recall, f1 = precision_recall_f1(labels, predicted)
    return {
        "pairs": len(rows),
        "positives": int(labels.sum()),
        "threshold": threshold,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "accuracy": float((predicted == labels.astype(bool)).mean()),
        "roc_auc": roc_auc(labels, probabilities),
        "ece": expected_calibration_error(labels, probabilities, bins),
        "ece_bins": bins,
        "seconds_per_pair": elapsed / len(rows),
    }
