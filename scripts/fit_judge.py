"""Fit the judge's calibrated probability on labelled real pairs; writes retold/data/judge.json.

Labelled pairs (seeded sample, read from ../shared/data, never copied):
- PAN 2013 training: no-plagiarism pairs (not derived); no-obfuscation, random-obfuscation,
  translation-obfuscation and annotated summary-obfuscation pairs (derived).
- BBC 2004-05: byte-identical articles (derived: copies), articles of different topics
  (unrelated) and of the same topic (hard negatives: not derived).

The model is a logistic regression over ``retold.judge.FEATURE_NAMES``; calibration is reported as
the expected calibration error (10 bins) on held-out pairs with 2-fold cross-validation, then the
model is refitted on all pairs.

Usage: ``python scripts/fit_judge.py [--per-group N] [--seed S]``
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from retold.compare import Settings, detected_chars, pair_evidence
from retold.ingest import load
from retold.judge import FEATURE_NAMES, direction, features
from retold.model import Document

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pan_pairs(per_group: int, rng: random.Random) -> list[tuple[str, Path, Path, int]]:
    root = DATA / "pan13-train"
    out = []
    for category in sorted(p for p in root.iterdir() if p.is_dir() and p.name[:2].isdigit()):
        lines = [line.split() for line in (category / "pairs").read_text().splitlines() if line.strip()]
        label = 0 if category.name.startswith("01") else 1
        if category.name.startswith("05"):
            lines = [
                pair for pair in lines
                if 'name="plagiarism"' in (category / f"{Path(pair[0]).stem}-{Path(pair[1]).stem}.xml").read_text()
            ]
        rng.shuffle(lines)
        for susp, src in lines[:per_group]:
            out.append((f"pan-{category.name}", root / "susp" / susp, root / "src" / src, label))
    return out


def bbc_pairs(per_group: int, rng: random.Random) -> list[tuple[str, Document, Document, int]]:
    records = [json.loads(line) for line in (DATA / "news" / "bbc-2004-2005.jsonl").open(encoding="utf-8")]
    by_hash: dict[str, list[dict]] = defaultdict(list)
    for record in records:
        by_hash[hashlib.sha1(record["text"].encode()).hexdigest()].append(record)
    identical = [group[:2] for group in by_hash.values() if len(group) >= 2]
    rng.shuffle(identical)
    out: list[tuple[str, Document, Document, int]] = []

    def doc(record: dict) -> Document:
        return load(json.dumps({"text": record["text"], "title": record.get("title")}).encode())

    for first, second in identical[:per_group]:
        out.append(("bbc-identical", doc(first), doc(second), 1))
    by_category: dict[str, list[dict]] = defaultdict(list)
    for record in records:
        by_category[record["category"]].append(record)
    categories = sorted(by_category)
    for _ in range(per_group):
        c1, c2 = rng.sample(categories, 2)
        out.append(("bbc-unrelated", doc(rng.choice(by_category[c1])), doc(rng.choice(by_category[c2])), 0))
        same = rng.sample(by_category[rng.choice(categories)], 2)
        if same[0]["text"] != same[1]["text"]:
            out.append(("bbc-same-topic", doc(same[0]), doc(same[1]), 0))
    return out


def expected_calibration_error(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in itertools.pairwise(edges):
        mask = (p >= lo) & ((p < hi) | (hi == 1.0))
        if mask.any():
            total += mask.sum() / len(p) * abs(p[mask].mean() - y[mask].mean())
    return float(total)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-group", type=int, default=150)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "retold" / "data" / "judge.json"))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    settings = Settings()
    rows: list[list[float]] = []
    labels: list[int] = []
    groups: list[str] = []
    items: list[tuple[str, object, object, int]] = list(pan_pairs(args.per_group, rng)) + list(
        bbc_pairs(args.per_group, rng)
    )
    started = time.time()
    for i, (group, first, second, label) in enumerate(items):
        a = first if isinstance(first, Document) else load(first)
        b = second if isinstance(second, Document) else load(second)
        found = pair_evidence(a, b, settings)
        chosen = direction(found.a_as_derivative, found.b_as_derivative, a.published, b.published)
        oriented, derivative, source = (
            (found.a_as_derivative, a, b) if chosen.derivative == "a" else (found.b_as_derivative, b, a)
        )
        rows.append(features(oriented, detected_chars(derivative, source, settings.passages)))
        labels.append(label)
        groups.append(group)
        if i % 50 == 0:
            print(f"{i}/{len(items)} pairs, {time.time() - started:.0f}s", file=sys.stderr)
    x = np.asarray(rows)
    y = np.asarray(labels)
    mean = x.mean(axis=0)
    scale = x.std(axis=0) + 1e-9
    z = (x - mean) / scale
    order = np.random.default_rng(args.seed).permutation(len(y))
    folds = [order[: len(y) // 2], order[len(y) // 2 :]]
    held_out = np.zeros(len(y))
    for k in range(2):
        train, test = folds[1 - k], folds[k]
        model = LogisticRegression(C=1.0, max_iter=1000).fit(z[train], y[train])
        held_out[test] = model.predict_proba(z[test])[:, 1]
    ece = expected_calibration_error(held_out, y)
    auc = roc_auc_score(y, held_out)
    accuracy = float(((held_out >= 0.5) == y).mean())
    per_group = {
        g: round(float(((held_out[np.asarray(groups) == g] >= 0.5) == y[np.asarray(groups) == g]).mean()), 4)
        for g in sorted(set(groups))
    }
    final = LogisticRegression(C=1.0, max_iter=1000).fit(z, y)
    payload = {
        "features": list(FEATURE_NAMES),
        "mean": mean.round(6).tolist(),
        "scale": scale.round(6).tolist(),
        "coef": final.coef_[0].round(6).tolist(),
        "intercept": round(float(final.intercept_[0]), 6),
        "fitted_on": {"pairs": len(y), "positives": int(y.sum()), "seed": args.seed, "groups": sorted(set(groups))},
        "held_out_2fold": {
            "expected_calibration_error": round(ece, 4),
            "roc_auc": round(float(auc), 4),
            "accuracy": round(accuracy, 4),
            "accuracy_by_group": per_group,
        },
        "encoder": settings.align.encoder,
    }
    Path(args.out).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(payload["held_out_2fold"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
