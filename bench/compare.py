"""Speed of ``compare``: the seed pair warm and cold, and a fixed sample of 200 PAN pairs.

Writes ``bench/results/compare.json``. Targets (issue "retold compare"): seed compare ≤ 100 ms in
a warm process, ≤ 4 s as a cold CLI call; ≤ 11 ms CPU per PAN pair.
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
RESULTS = ROOT / "bench" / "results"


def _seed_paths() -> tuple[Path, Path]:
    seeds = SHARED / "seeds"
    return next(seeds.glob("000_*.txt")), next(seeds.glob("001_*.txt"))


def seed_timings(repeats: int = 5) -> dict[str, Any]:
    """Seed compare: warm process (model loaded; embedding cache emptied each run, and reused),
    and cold CLI calls (new process each time)."""
    import retold
    from retold.encoders import available_cores, get_encoder

    rewrite, original = _seed_paths()
    retold.compare(rewrite, original)  # load the model once
    encoder = get_encoder()
    uncached, cached = [], []
    for _ in range(repeats):
        encoder._cache.clear()  # type: ignore[union-attr]
        started = time.perf_counter()
        retold.compare(rewrite, original)
        uncached.append((time.perf_counter() - started) * 1000)
    for _ in range(repeats):
        started = time.perf_counter()
        retold.compare(rewrite, original)
        cached.append((time.perf_counter() - started) * 1000)
    cpu_started = time.process_time()
    encoder._cache.clear()  # type: ignore[union-attr]
    retold.compare(rewrite, original)
    new_texts_cpu = time.process_time() - cpu_started
    cold = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "retold", "compare", str(rewrite), str(original), "--json"],
            check=True,
            capture_output=True,
        )
        cold.append(time.perf_counter() - started)
    return {
        "warm_ms_new_texts": round(statistics.median(uncached), 1),
        "warm_cpu_ms_new_texts": round(new_texts_cpu * 1000, 1),
        "cores": available_cores(),  # the encoder splits large calls over up to 4 of them
        "warm_ms_cached_embeddings": round(statistics.median(cached), 1),
        "cold_cli_s": round(statistics.median(cold), 2),
        "targets": {"warm_ms": 100, "cold_cli_s": 4},
    }


def pan_sample(count: int = 200, seed: int = 0) -> dict[str, Any]:
    """CPU per pair on a fixed seeded sample of PAN training pairs: the PAN detector and the full
    compare (segment, encode, link, judge, facts)."""
    import retold
    from retold import facts, segment
    from retold.eval.pan import read_text
    from retold.passages import detect_passages

    corpus = SHARED / "data" / "pan13-train"
    pairs = [line.split() for line in (corpus / "pairs").read_text().splitlines() if line.strip()]
    sample = random.Random(seed).sample(pairs, count)
    texts = [(read_text(corpus / "susp" / s), read_text(corpus / "src" / r)) for s, r in sample]
    started_cpu, started_wall = time.process_time(), time.perf_counter()
    for suspicious, source in texts:
        detect_passages(suspicious, source)
    detector_cpu = time.process_time() - started_cpu
    detector_wall = time.perf_counter() - started_wall

    def compare_all() -> tuple[float, float, int]:
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        failures = 0
        for suspicious, source in texts:
            try:
                retold.compare(suspicious, source)
            except retold.InputError:
                failures += 1
        return time.process_time() - started_cpu, time.perf_counter() - started_wall, failures

    compare_cpu, compare_wall, failures = compare_all()
    # the same pairs again, every sentence vector now in the encoder's cache: what is left is
    # everything but encoding (segmentation, lexical evidence, links, judge, facts); the
    # per-document segment and fact caches are emptied so that only encoding is skipped
    segment._segment.cache_clear()
    facts._extract_facts.cache_clear()
    cached_cpu, _, _ = compare_all()
    return {
        "pairs": count,
        "seed": seed,
        "detector": {
            "cpu_ms_per_pair": round(detector_cpu / count * 1000, 2),
            "pairs_per_s": round(count / detector_wall, 1),
        },
        "compare": {
            "cpu_ms_per_pair": round(compare_cpu / count * 1000, 2),
            "pairs_per_s": round(count / compare_wall, 2),
            "input_errors": failures,
            "cpu_ms_per_pair_cached_embeddings": round(cached_cpu / count * 1000, 2),
        },
        "target_cpu_ms_per_pair": 11,
    }


def run() -> dict[str, Any]:
    result = {"seed": seed_timings(), "pan_sample": pan_sample()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "compare.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
