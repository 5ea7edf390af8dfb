"""The one exception tree of retold.

::

    RetoldError                 root: catch this to catch everything retold raises on purpose
    ├── InputError              a file or record we cannot read as an article (path + problem)
    ├── ConfigError             settings that are out of range or contradict each other
    ├── StoreError              an index directory that is missing, locked or of another version
    └── ModelError              an encoder or model that cannot be loaded offline

Only the CLI and the HTTP layer catch broad exceptions; everything below raises.
"""

from __future__ import annotations


class RetoldError(Exception):
    """Root of every error retold raises on purpose."""


class InputError(RetoldError):
    """An input that cannot be read as an article.

    Args:
        source: the file name (or ``"-"`` for stdin, ``"<text>"`` for a string) the problem is in.
        problem: what is wrong, in a few words ("file not found", "empty", "binary file").
        position: optional line, record or byte position inside the source.
    """

    def __init__(self, source: str, problem: str, position: str | None = None) -> None:
        self.source = source
        self.problem = problem
        self.position = position
        where = f"{source} {position}" if position else source
        super().__init__(f"{where}: {problem}")


class ConfigError(RetoldError):
    """Settings that are out of range or contradict each other."""


class StoreError(RetoldError):
    """An index store that cannot be opened or written safely."""


class ModelError(RetoldError):
    """An encoder or model that cannot be loaded (offline only)."""
