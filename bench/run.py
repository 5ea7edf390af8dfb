"""``make bench``: run every benchmark, print the numbers, write ``bench/results/*.json``."""

from __future__ import annotations

import importlib
import json
import sys
import time

BENCHMARKS = ("compare", "facts", "extraction", "pan", "collections", "serve", "spark")


def main(names: list[str]) -> int:
    for name in names or list(BENCHMARKS):
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            print(f"bench: {name}: not available ({exc})", file=sys.stderr)
            continue
        started = time.perf_counter()
        result = module.run()
        print(f"== {name} ({time.perf_counter() - started:.0f} s)")
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
