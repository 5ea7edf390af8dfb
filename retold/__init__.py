"""retold: find where a news article was rewritten from another one.

The front door is small on purpose::

    >>> import retold
    >>> result = retold.compare("rewrite.txt", "original.txt")   # doctest: +SKIP
    >>> result.verdict.derived                                    # doctest: +SKIP
    True

Everything else (stage functions, settings of each stage) lives in the stage modules.
"""

from __future__ import annotations

import logging

from .compare import Settings, compare
from .errors import ConfigError, InputError, ModelError, RetoldError, StoreError
from .index import Index
from .ingest import load
from .model import (
    Added,
    Alignment,
    CompareResult,
    Coverage,
    Direction,
    Document,
    Dropped,
    Fact,
    FactChange,
    Segment,
    Span,
    Verdict,
)
from .scan import scan
from .trace import trace

__version__ = "0.1.0"

__all__ = [
    "Added",
    "Alignment",
    "CompareResult",
    "ConfigError",
    "Coverage",
    "Direction",
    "Document",
    "Dropped",
    "Fact",
    "FactChange",
    "Index",
    "InputError",
    "ModelError",
    "RetoldError",
    "Segment",
    "Settings",
    "Span",
    "StoreError",
    "Verdict",
    "__version__",
    "compare",
    "load",
    "scan",
    "trace",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
