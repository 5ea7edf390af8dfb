"""Many articles as JSON Lines: one JSON object per line (``.jsonl``, also gzip-compressed ``.jsonl.gz``).

Each object needs ``text`` and may carry ``id``, ``url``, ``title``, ``published`` (or ``date``,
used when ``published`` is absent, as in Reuters-21578), ``site`` and ``author``; other fields are
ignored. Example line::

    {"id": "wire-42", "title": "Port reopens", "published": "2024-03-01", "text": "The port..."}

A document is named ``<file>#line<n>`` (lines numbered from 1) and has ``format`` ``jsonl``; its id
is the record's ``id`` when given, else the hash of its text. Blank lines are ignored. A record
whose ``text`` is missing, ``null`` or blank is *skipped* (``no text``), as is one with fewer than
three words (``too little text``). A line that is not valid UTF-8 or JSON, not an object, or whose
``text`` is not a string is an *error*, reported with its line number
(``feed.jsonl line 12: invalid JSON``). The file is streamed line by line.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from retold.errors import InputError
from retold.ingest.text import make_document
from retold.model import Document

__all__ = ["read_jsonl", "read_lines"]

log = logging.getLogger(__name__)

_METADATA = ("title", "url", "author", "site")

Skip = Callable[[str], None]
Error = Callable[[InputError], None]


def read_jsonl(
    path: Path | str,
    *,
    on_skip: Skip | None = None,
    on_error: Error | None = None,
) -> Iterator[Document]:
    """Yield one document per line with text of a JSON Lines file (``.gz`` is decompressed).

    Args:
        path: the file.
        on_skip: called with the reason for every record skipped by design (``"no text"``).
        on_error: called with an :class:`InputError` for every malformed line; when ``None`` the
            error is raised.

    Raises:
        InputError: the file cannot be opened or is not gzip when named ``.gz``; a malformed line
            when ``on_error`` is ``None``.

    Example:
        >>> [d.title for d in read_jsonl("feed.jsonl")]  # doctest: +SKIP
        ['Port reopens', 'Ferry strike ends']
    """
    name = str(path)
    try:
        raw: IO[bytes] = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError as exc:
        raise InputError(name, "file not found") from exc
    except OSError as exc:
        raise InputError(name, f"cannot read file: {exc.strerror or exc}") from exc
    try:
        stream: IO[bytes] = (gzip.GzipFile(fileobj=raw)  # type: ignore[assignment]
                              if name.lower().endswith(".gz") else raw)
        try:
            yield from read_lines(stream, name, on_skip=on_skip, on_error=on_error)
        except (gzip.BadGzipFile, EOFError, OSError) as exc:
            error = InputError(name, f"corrupt gzip stream ({exc})")
            if on_error is None:
                raise error from exc
            on_error(error)
    finally:
        raw.close()


def read_lines(
    lines: Iterable[bytes | str],
    name: str,
    *,
    on_skip: Skip | None = None,
    on_error: Error | None = None,
    first_line: int = 1,
) -> Iterator[Document]:
    """Yield documents from JSON Lines already split into lines (bytes or str), e.g. stdin.

    Args:
        lines: the lines, with or without their line ends.
        name: the source name for documents and messages (a file name or ``-``).
        on_skip, on_error: see :func:`read_jsonl`.
        first_line: the number of the first line.
    """
    for number, line in enumerate(lines, start=first_line):
        try:
            doc = _record(line, name, number)
        except InputError as exc:
            if on_error is None:
                raise
            on_error(exc)
            continue
        if isinstance(doc, str):
            if on_skip is not None:
                on_skip(doc)
            continue
        if doc is not None:
            yield doc


def _record(line: bytes | str, name: str, number: int) -> Document | str | None:
    """The document on one line, a skip reason, or ``None`` for a blank line."""
    position = f"line {number}"
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(name, f"invalid UTF-8 ({exc.reason} at byte {exc.start})", position) from exc
    line = line.strip().lstrip("\ufeff")
    if not line:
        return None
    try:
        record: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(name, f"invalid JSON ({exc.msg} at column {exc.colno})", position) from exc
    except ValueError as exc:  # e.g. a number too long to convert
        raise InputError(name, f"invalid JSON ({exc})", position) from exc
    except RecursionError as exc:
        raise InputError(name, "invalid JSON (nested too deeply)", position) from exc
    if not isinstance(record, dict):
        raise InputError(name, f"JSON value is not an object (got {type(record).__name__})", position)
    body = record.get("text")
    if body is None or (isinstance(body, str) and not body.strip()):
        log.debug("%s %s: no text", name, position)
        return "no text"
    if not isinstance(body, str):
        raise InputError(name, f"JSON field 'text' is not a string (got {type(body).__name__})",
                         position)
    published = record.get("published")
    if published is None:
        published = record.get("date")
    doc_name = f"{name}#line{number}"
    try:
        return make_document(
            body,
            doc_name,
            "jsonl",
            id=_scalar(record.get("id")),
            published=_scalar(published),
            **{key: _scalar(record.get(key)) for key in _METADATA},
        )
    except InputError:
        return "too little text"


def _scalar(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)
