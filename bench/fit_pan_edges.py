"""Fit the learned edge model of :mod:`retold.passages` on half of the PAN 2013 training pairs.

The passages found with the edge step off, on the *fit* half of a seeded 50/50 split of all
pairs (the split of ``bench/fit_pan_validator.py`` and ``bench/tune_pan.py``), give one row per
edge sentence (:func:`retold.passages.edge_features`) of each passage that touches an annotated
case. An edge sentence is positive (outside) when less than half of its characters in the
passage fall inside that case. A logistic regression over the standardised
:data:`retold.passages.EDGE_FEATURES` and their pairwise products is written to
``retold/data/NAME.json``.

Usage::

    python -m bench.fit_pan_edges --name pan_edges
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import bench.tune_pan as tune
from bench.fit_pan_validator import (
    DATA,
    _overlap,
    fit_half_rows,
    fit_quadratic_logistic,
    model_arguments,
)
from retold.eval.plagdet import overlaps
from retold.passages import (
    EDGE_FEATURES,
    PassageSettings,
    detect_passages,
    edge_features,
    pair_seeds,
)


def edges_of_pair(index: int, settings: PassageSettings) -> tuple[list[list[float]], list[float]]:
    """Features and in-case share of every edge sentence of the passages of one pair."""
    _, suspicious, source, cases = tune._PAIRS[index]
    found = detect_passages(suspicious, source, settings)
    d_side, r_side, similarity, _, seeds = pair_seeds(suspicious, source, settings)
    features, shares = [], []
    for d_span, r_span in found:
        case = next((c for c in cases if overlaps(c, (d_span.start, len(d_span), r_span.start, len(r_span)))), None)
        if case is None or (r_span.start == 0 and r_span.end >= len(source.rstrip())):
            continue  # a false detection, or the summary pass's whole-source passage
        for (side, _, _, chars), row in edge_features((d_span, r_span), d_side, r_side, similarity, seeds):
            lo, hi = (case[0], case[0] + case[1]) if side == "d" else (case[2], case[2] + case[3])
            features.append(row)
            shares.append(_overlap(chars.start, chars.end, lo, hi) / len(chars))
    return features, shares


def _collect(task: tuple[int, PassageSettings]) -> tuple[list[list[float]], list[float]]:
    return edges_of_pair(*task)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = model_arguments(__doc__, "pan_edges", 1.0).parse_args(argv)

    x, shares = fit_half_rows(_collect, dataclasses.replace(PassageSettings(), edge_model=""), args.seed, args.jobs)
    y = shares < 0.5
    result = {
        "kind": "retold-passage-edges",
        "protocol": f"logistic regression (quadratic terms, C={args.C}) on the edge sentences of the passages of the fit half (seed {args.seed}) of PAN 2013 training pairs; positive = under half inside the case",
        "edges": len(y),
        "positive_share": float(y.mean()),
        "features": list(EDGE_FEATURES),
        **fit_quadratic_logistic(x, y, args.C),
    }
    (DATA / f"{args.name}.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"{args.name}: {len(y)} edge sentences, {y.mean():.3f} outside")
    return result


if __name__ == "__main__":
    main()
