"""Shared fixtures: the real corpora are read from ../shared, never copied into the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
EXAMPLES = ROOT / "examples"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (PAN 2013, MRPC, STS-B, BBC, Reuters, HTML, WARC)."""
    return _need(SHARED / "data")


@pytest.fixture(scope="session")
def seed_paths() -> tuple[Path, Path]:
    """(rewrite, original): the seed pair that defines the product."""
    seeds = _need(SHARED / "seeds")
    return next(seeds.glob("000_*.txt")), next(seeds.glob("001_*.txt"))


@pytest.fixture(scope="session")
def seed_result(seed_paths):
    import retold

    return retold.compare(*seed_paths)
