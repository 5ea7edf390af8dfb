"""The ingest stage: turn a file, stdin, bytes or a string into a :class:`~retold.model.Document`.

One reader per format: :mod:`retold.ingest.text` (plain text and Markdown, plus decoding and
normalisation shared by all), :mod:`retold.ingest.html` (trafilatura) and
:mod:`retold.ingest.json` (one JSON object), :mod:`retold.ingest.jsonl` (JSON Lines) and
:mod:`retold.ingest.warc` (WARC and ARC web archives). Every reader normalises the text exactly
once. :func:`iter_documents` (:mod:`retold.ingest.batch`) reads many files, folders, globs and
stdin at once and counts what it skipped in an :class:`IngestReport`.

Example:
    >>> doc = load("Three little words, and more.")
    >>> doc.name, doc.format
    ('<text>', 'text')
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from retold.errors import ConfigError, InputError
from retold.ingest import html as _html
from retold.ingest import json as _json
from retold.ingest import text as _text
from retold.ingest.text import decode, normalise
from retold.model import Document

__all__ = [
    "FORMATS",
    "IngestReport",
    "decode",
    "iter_documents",
    "load",
    "load_bytes",
    "normalise",
    "sniff_format",
]

FORMATS = ("text", "markdown", "html", "json")
"""The formats :func:`load_bytes` reads."""

_EXTENSIONS = {
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".json": "json",
    ".md": "markdown",
    ".markdown": "markdown",
}
_MAX_PATH_CHARS = 4096
_PATHLIKE_RE = re.compile(r"\S+\.(?:txt|text|html?|xhtml|json|md|markdown)", re.IGNORECASE)
_HTML_START_RE = re.compile(r"\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)\b",
                            re.IGNORECASE | re.DOTALL)
_HTML_BODY_RE = re.compile(r"<body[\s>]", re.IGNORECASE)


def load(source: Path | str | bytes | Document, *, name: str | None = None) -> Document:
    """Read one article.

    Args:
        source: a :class:`~pathlib.Path`; ``"-"`` for the bytes on stdin; a :class:`Document`
            (returned as is); ``bytes``; or a ``str``, which is a path when it has no newline, is
            shorter than 4096 characters and names an existing file, and the article text otherwise.
        name: what to call the document in messages and reports; defaults to the file name as
            given, ``-`` for stdin, ``<text>`` for a string and ``<bytes>`` for bytes.

    Returns:
        The document, with normalised text and whatever metadata the input carried.

    Raises:
        InputError: the file is missing, unreadable, binary, empty, not decodable, or holds too
            little text to be an article.

    Example:
        >>> load("The port reopened on Monday.").text
        'The port reopened on Monday.'
    """
    if isinstance(source, Document):
        return source
    if isinstance(source, Path):
        return _load_path(source, name)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return load_bytes(bytes(source), name or "<bytes>")
    if isinstance(source, str):
        if source == "-":
            data = sys.stdin.buffer.read()
            return load_bytes(data, name or "-", _format_from_name(name) if name else None)
        if "\n" not in source and len(source) < _MAX_PATH_CHARS:
            candidate = Path(source)
            try:
                is_file = candidate.is_file()
            except OSError:
                is_file = False
            if is_file or _PATHLIKE_RE.fullmatch(source.strip()):
                return _load_path(candidate, name)
        return _from_text(source, name or "<text>", None)
    raise TypeError(f"cannot load a {type(source).__name__}: pass a Path, str, bytes or Document")


def load_bytes(data: bytes, name: str, format: str | None = None) -> Document:
    """Read one article from raw bytes.

    Args:
        data: the file's bytes.
        name: the file name (its extension helps to guess the format).
        format: ``text``, ``markdown``, ``html`` or ``json``; guessed when ``None``: by the
            extension of ``name`` first, then by the content (see :func:`sniff_format`).

    Raises:
        InputError: see :func:`load`.
        ConfigError: ``format`` is not one of :data:`FORMATS`.

    Example:
        >>> load_bytes(b'{"text": "The port reopened on Monday."}', "a.json").format
        'json'
    """
    if format is not None and format not in FORMATS:
        raise ConfigError(f"unknown input format {format!r}; expected one of {', '.join(FORMATS)}")
    fmt = format or _format_from_name(name)
    text = _decode_page(data, name) if fmt in (None, "html") else decode(data, name)
    return _from_text(text, name, fmt)


def sniff_format(text: str) -> str:
    """Guess the format of decoded content: ``html``, ``json`` or ``text``.

    HTML starts with ``<!doctype html`` or ``<html`` or has a ``<body`` tag; JSON starts with
    ``{`` and parses as an object. Markdown cannot be told from text and is read as text.
    """
    head = text[:65536]
    if _HTML_START_RE.match(head) or _HTML_BODY_RE.search(head):
        return "html"
    if text.lstrip().startswith("{"):
        try:
            _json.parse_object(text, "<sniff>")
        except InputError:
            return "text"
        return "json"
    return "text"


def _format_from_name(name: str) -> str | None:
    return _EXTENSIONS.get(Path(name).suffix.lower())


def _decode_page(data: bytes, name: str) -> str:
    """Decode bytes that may be an HTML page.

    Valid UTF-8 (or a byte-order mark) wins; otherwise a charset declared in a ``<meta>`` tag is
    honoured when it decodes cleanly (ISO-8859-1 and ASCII read as Windows-1252, as browsers do);
    otherwise :func:`decode` guesses.
    """
    charset = _html.declared_charset(data)
    if charset and b"\x00" not in data[:65536]:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            if charset in ("iso-8859-1", "latin-1", "latin1", "us-ascii", "ascii"):
                charset = "cp1252"
            try:
                return _text.check_text(data.decode(charset), name)
            except (LookupError, UnicodeDecodeError):
                pass
    return decode(data, name)


def _from_text(text: str, name: str, fmt: str | None) -> Document:
    fmt = fmt or sniff_format(text)
    if fmt == "html":
        return _html.read(text, name)
    if fmt == "json":
        return _json.read(text, name)
    if not text.strip():
        raise InputError(name, "empty file")
    return _text.read(text, name, fmt)


def _load_path(path: Path, name: str | None) -> Document:
    shown = name or str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise InputError(shown, "file not found") from exc
    except IsADirectoryError as exc:
        raise InputError(shown, "is a directory, not a file") from exc
    except PermissionError as exc:
        raise InputError(shown, "permission denied") from exc
    except OSError as exc:
        raise InputError(shown, f"cannot read file: {exc.strerror or exc}") from exc
    return load_bytes(data, shown, _format_from_name(path.name))


# At the end: batch.py reads single articles through load() above.
from retold.ingest.batch import IngestReport, iter_documents
