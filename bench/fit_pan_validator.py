"""Fit the learned cluster validator of :mod:`retold.passages` on half of the PAN 2013 training pairs.

Every cluster the extension step can visit (:func:`retold.passages.cluster_tree`) on the *fit* half
of a seeded 50/50 split of all pairs is labelled by where it lies: positive when at least half of
its characters (both sides) fall inside annotated cases. A logistic regression over the
standardised :data:`retold.passages.VALIDATOR_FEATURES` and their pairwise products
(:func:`retold.passages.quadratic_terms`) is fitted and written to
``retold/data/NAME.json``; the held-out half is left for ``bench.tune_pan``/``bench.pan`` to score.

Usage::

    python -m bench.fit_pan_validator --name pan_validator
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
from pathlib import Path
from typing import Any

import numpy as np

import bench.tune_pan as tune
from retold.passages import (
    VALIDATOR_FEATURES,
    PassageSettings,
    _bounds,
    cluster_features,
    cluster_tree,
    pair_seeds,
    quadratic_terms,
)

DATA = Path(__file__).resolve().parents[1] / "retold" / "data"


def _overlap(a: int, b: int, c: int, d: int) -> int:
    return max(0, min(b, d) - max(a, c))


def clusters_of_pair(index: int, settings: PassageSettings) -> tuple[list[list[float]], list[float]]:
    """Features and in-case share of every cluster of one pair of ``tune._PAIRS``."""
    _, suspicious, source, cases = tune._PAIRS[index]
    d_side, r_side, similarity, _, seeds = pair_seeds(suspicious, source, settings)
    if not d_side.spans or not r_side.spans:
        return [], []
    rate = len(seeds) / max(1, min(len(d_side.spans), len(r_side.spans)))
    features, shares = [], []
    for cluster, gap in cluster_tree(seeds, similarity, settings):
        d_lo, d_hi, s_lo, s_hi = _bounds(cluster)
        d0, d1 = d_side.spans[d_lo].start, d_side.spans[d_hi].end
        r0, r1 = r_side.spans[s_lo].start, r_side.spans[s_hi].end
        inside = sum(_overlap(d0, d1, c[0], c[0] + c[1]) + _overlap(r0, r1, c[2], c[2] + c[3]) for c in cases)
        features.append(cluster_features(cluster, gap, similarity, d_side, r_side, rate).tolist())
        shares.append(inside / (d1 - d0 + r1 - r0))
    return features, shares


def fit_quadratic_logistic(x: np.ndarray, y: np.ndarray, c: float) -> dict[str, Any]:
    """A logistic regression over standardised features and their pairwise products, as the
    arrays :class:`retold.passages.Validator` reads."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    terms = quadratic_terms((x - mean) / scale)
    term_mean, term_scale = terms.mean(axis=0), terms.std(axis=0) + 1e-9
    model = LogisticRegression(C=c, max_iter=5000).fit((terms - term_mean) / term_scale, y)
    return {
        "mean": mean.tolist(),
        "scale": scale.tolist(),
        "term_mean": term_mean.tolist(),
        "term_scale": term_scale.tolist(),
        "weights": model.coef_[0].tolist(),
        "intercept": float(model.intercept_[0]),
    }


def _collect(task: tuple[int, PassageSettings]) -> tuple[list[list[float]], list[float]]:
    return clusters_of_pair(*task)


def fit_half_rows(settings: PassageSettings, seed: int, jobs: int) -> tuple[np.ndarray, np.ndarray]:
    """Load every PAN pair, take the fit half of the seeded 50/50 split (the split of
    ``bench/tune_pan.py``) and return the cluster features and in-case shares found in it."""
    tune._PAIRS = tune._load(tune.CORPUS, 0, seed)
    indices = list(range(len(tune._PAIRS)))
    random.Random(seed).shuffle(indices)
    fit = sorted(indices[: len(indices) // 2])
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        parts = pool.map(_collect, [(i, settings) for i in fit], chunksize=16)
    x = np.array([row for features, _ in parts for row in features])
    shares = np.array([share for _, part in parts for share in part])
    return x, shares


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--name", default="pan_validator")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--C", type=float, default=0.1, help="inverse regularisation strength")
    parser.add_argument("--positive-share", type=float, default=0.5, help="in-case share of a positive cluster")
    args = parser.parse_args(argv)

    x, shares = fit_half_rows(PassageSettings(), args.seed, args.jobs)
    y = shares >= args.positive_share
    result = {
        "kind": "retold-passage-validator",
        "protocol": f"logistic regression (quadratic terms, C={args.C}) on the clusters of the fit half (seed {args.seed}) of PAN 2013 training pairs",
        "clusters": len(y),
        "positive_share": float(y.mean()),
        "features": list(VALIDATOR_FEATURES),
        **fit_quadratic_logistic(x, y, args.C),
    }
    (DATA / f"{args.name}.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"{args.name}: {len(y)} clusters, {y.mean():.3f} positive")
    return result


if __name__ == "__main__":
    main()
