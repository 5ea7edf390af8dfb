"""Articles from web archives: ``.warc``, ``.warc.gz``, ``.arc`` and ``.arc.gz`` (through warcio).

Every HTML response record (HTTP status 200, ``Content-Type`` ``text/html`` or
``application/xhtml+xml``) is decoded (the charset declared in the HTTP header or a ``<meta>`` tag
when the bytes fit it, else detection) and its main text extracted by
:func:`retold.ingest.html.read`. The document gets ``url`` = ``WARC-Target-URI``, ``published``
from the page metadata or else the ``WARC-Date``, ``site`` = the URL's host when the page names no
site, ``name`` = ``<file>#record<n>`` (records numbered from 1 in file order, every record
counted) and ``format`` = ``warc``. ARC files are read as WARC (``arc2warc``).

Everything else is *skipped by design* and reported through ``on_skip(reason)``: warcinfo,
request, metadata, resource, conversion and revisit records, non-HTTP responses (``dns:``),
non-HTML responses, statuses other than 200, and HTML pages without article text. A record warcio
cannot parse, or a corrupt gzip member, is an *error* reported through ``on_error(InputError)``
with the record number and byte offset (of the compressed file for ``.gz``). Reading then goes on
at the next gzip member (or the next ``WARC/1.`` header in an uncompressed file) when one
follows; otherwise the file ends there. A gzip file that is not compressed per record (one member
holding many records) is read again as one stream, without the per-record offsets.

The file is streamed: only one record's payload is in memory at a time, and payloads larger than
:data:`MAX_PAGE_BYTES` are skipped.

Example:
    >>> skipped = []
    >>> docs = list(read_warc("crawl.warc.gz", on_skip=skipped.append))  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import gzip
import logging
import os
import re
import zlib
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from retold.errors import InputError
from retold.ingest import html as _html
from retold.ingest import text as _text
from retold.model import Document

__all__ = ["MAX_PAGE_BYTES", "WARC_SUFFIXES", "is_warc_name", "read_warc"]

log = logging.getLogger(__name__)

MAX_PAGE_BYTES = 20 * 1024 * 1024
"""HTML payloads larger than this (after content decoding) are skipped as ``page too large``."""

WARC_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz", ".wat.gz", ".wet.gz")
"""File name endings read as web archives (WAT and WET are WARC files of metadata and text)."""

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_SKIPPED_TYPES = {
    "warcinfo": "warcinfo record",
    "request": "request record",
    "metadata": "metadata record",
    "resource": "resource record",
    "revisit": "revisit record",
    "conversion": "conversion record",
    "continuation": "continuation record",
}
_HTML_SNIFF_RE = re.compile(rb"\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)\b",
                            re.IGNORECASE | re.DOTALL)
_CHARSET_PARAM_RE = re.compile(r"charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.IGNORECASE)
_LATIN1_ALIASES = frozenset({"iso-8859-1", "iso8859-1", "latin-1", "latin1", "us-ascii", "ascii"})
_GZIP_MAGIC = b"\x1f\x8b\x08"
_WARC_MAGIC = re.compile(rb"(?:^|\n)WARC/1\.\d\r?\n")
_SCAN_BLOCK = 1 << 20

Skip = Callable[[str], None]
Error = Callable[[InputError], None]


def is_warc_name(name: str) -> bool:
    """Whether a file name ends in one of :data:`WARC_SUFFIXES` (case-insensitive)."""
    return name.lower().endswith(WARC_SUFFIXES)


def read_warc(
    path: Path | str,
    *,
    on_skip: Skip | None = None,
    on_error: Error | None = None,
) -> Iterator[Document]:
    """Yield one document per HTML response record with article text.

    Args:
        path: a ``.warc``, ``.warc.gz``, ``.arc`` or ``.arc.gz`` file.
        on_skip: called with the reason for every record skipped by design (``"request record"``,
            ``"non-HTML response"``, ``"no article text"``, ...).
        on_error: called with an :class:`InputError` for every malformed record or corrupt gzip
            stream; when ``None`` the error is raised.

    Raises:
        InputError: the file cannot be opened, or (only when ``on_error`` is ``None``) a record
            is malformed.

    Example:
        >>> [d.url for d in read_warc("crawl.warc.gz")]  # doctest: +SKIP
        ['https://example.org/news/port-reopens']
    """
    name = str(path)
    skip: Skip = on_skip or (lambda _reason: None)

    def error(exc: InputError) -> None:
        if on_error is None:
            raise exc
        on_error(exc)

    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed in the finally below
    except FileNotFoundError as exc:
        raise InputError(name, "file not found") from exc
    except OSError as exc:
        raise InputError(name, f"cannot read file: {exc.strerror or exc}") from exc
    record_no = 0
    try:
        size = os.fstat(fh.fileno()).st_size
        gzipped = _is_gzip(fh)
        start: int | None = 0
        while start is not None:
            fh.seek(start)
            iterator = _archive_iterator(fh)
            failed_at: int | None = None
            warnings = 0
            while True:
                try:
                    record = next(iterator)
                except StopIteration:
                    _check_length_warning(iterator, warnings, name, record_no, error)
                    end = iterator.offset
                    if end < size and not _blank_from(fh, end):
                        record_no += 1
                        problem = ("corrupt gzip stream (damaged or truncated data)" if gzipped
                                   else "malformed record (unreadable data)")
                        error(InputError(name, problem, f"record {record_no} (byte {end})"))
                        failed_at = end
                    break
                except Exception as exc:  # noqa: BLE001 - warcio, gzip and zlib raise many kinds
                    offset = iterator.offset  # the start of the record that failed
                    if _is_unchunked_gzip(exc) and record_no == 1 and _one_gzip_member(fh):
                        yield from _read_unchunked(fh, name, record_no, skip, error)
                        return
                    _check_length_warning(iterator, warnings, name, record_no, error)
                    record_no += 1  # the damaged record keeps its number
                    error(InputError(name, _reason(exc), f"record {record_no} (byte {offset})"))
                    failed_at = offset
                    break
                warnings = _check_length_warning(iterator, warnings, name, record_no, error)
                record_no += 1
                offset = iterator.offset  # warcio moves it past a record only on the next call
                if gzipped and iterator.reader.decompressor is None:
                    # warcio fell back to reading raw bytes: this is no gzip member
                    error(InputError(name, "corrupt gzip stream (not a gzip member)",
                                     f"record {record_no} (byte {offset})"))
                    failed_at = offset
                    break
                try:
                    doc = _document(record, name, record_no, skip)
                except (zlib.error, EOFError, OSError, ValueError) as exc:
                    error(InputError(name, _reason(exc), f"record {record_no} (byte {offset})"))
                    failed_at = offset
                    break
                if doc is not None:
                    yield doc
            start = None if failed_at is None else _resync(fh, failed_at + 1)
            if start is not None:
                log.info("%s: going on at byte %d after a damaged record", name, start)
    finally:
        fh.close()


def _archive_iterator(stream: IO[bytes] | gzip.GzipFile) -> Any:
    """warcio's iterator, with its stderr warning about record lengths silenced (we report it)."""
    from warcio.archiveiterator import ArchiveIterator  # type: ignore[import-untyped]

    class _Quiet(ArchiveIterator):  # type: ignore[misc]
        INC_RECORD = ""

    return _Quiet(stream, arc2warc=True)


def _check_length_warning(iterator: Any, seen: int, name: str, record_no: int, error: Error) -> int:
    """Report warcio's "record not followed by newline" for the record just finished."""
    if iterator.err_count > seen:
        error(InputError(name, "malformed record (not followed by a blank line: its Content-Length "
                               "may be wrong)", f"record {record_no}"))
    return int(iterator.err_count)


def _document(record: Any, name: str, record_no: int, skip: Skip) -> Document | None:
    """The article in one record, or ``None`` after calling ``skip`` with the reason."""
    rec_type = record.rec_type
    if rec_type != "response":
        skip(_SKIPPED_TYPES.get(rec_type, f"{rec_type} record"))
        return None
    http = record.http_headers
    if http is None:
        skip("non-HTTP response")
        return None
    status = http.get_statuscode()
    if status != "200":
        skip("HTTP status not 200")
        return None
    content_type = http.get_header("Content-Type") or ""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type and media_type not in _HTML_TYPES:
        skip("non-HTML response")
        return None
    stream = record.content_stream()
    data = stream.read(MAX_PAGE_BYTES + 1)
    if len(data) > MAX_PAGE_BYTES:
        skip("page too large")
        return None
    if not media_type and not _HTML_SNIFF_RE.match(data[:4096]):
        skip("non-HTML response")
        return None
    doc_name = f"{name}#record{record_no}"
    try:
        markup = decode_page(data, doc_name, _charset_param(content_type))
        doc = _html.read(markup, doc_name)
    except InputError as exc:
        skip("no article text" if "article" in exc.problem or "too little" in exc.problem
             else exc.problem)
        return None
    url = record.rec_headers.get_header("WARC-Target-URI") or doc.url
    return dataclasses.replace(
        doc,
        url=url,
        published=doc.published or iso_date(record.rec_headers.get_header("WARC-Date")),
        site=doc.site or (_host(url) if url else None),
        format="warc",
    )


def decode_page(data: bytes, name: str, declared: str | None = None) -> str:
    """Decode an HTML payload.

    A byte-order mark wins, then strict UTF-8, then the charset declared in the HTTP header
    (``declared``) or in a ``<meta>`` tag when the bytes decode cleanly with it (ISO-8859-1 and
    ASCII read as Windows-1252, as browsers do), then :func:`retold.ingest.text.decode`'s
    detection.

    Raises:
        InputError: ``empty file``, ``binary file`` or ``cannot decode ...``.
    """
    if not data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        try:
            return _text.check_text(data.decode("utf-8"), name)
        except UnicodeDecodeError:
            pass
        for charset in (declared, _html.declared_charset(data)):
            if not charset:
                continue
            if charset.lower() in _LATIN1_ALIASES:
                charset = "cp1252"
            try:
                return _text.check_text(data.decode(charset), name)
            except (LookupError, UnicodeDecodeError):
                continue
    return _text.decode(data, name)


def iso_date(value: str | None) -> str | None:
    """``value`` when it is a valid ISO 8601 date or date-time (as WARC-Date should be), else ``None``."""
    if not value:
        return None
    value = value.strip()
    try:
        datetime.fromisoformat(value)
    except ValueError:
        log.debug("ignoring malformed WARC-Date %r", value)
        return None
    return value


def _charset_param(content_type: str) -> str | None:
    match = _CHARSET_PARAM_RE.search(content_type)
    return match.group(1).lower() if match else None


def _host(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def _reason(exc: BaseException) -> str:
    """A one-line reason: ``corrupt gzip stream`` or ``malformed record``, with warcio's words."""
    text = " ".join(str(exc).split())
    text = text.split(", first line:", 1)[0]  # warcio appends the raw (often binary) bytes
    text = "".join(ch if ch.isprintable() else "?" for ch in text)[:120]
    lower = text.lower()
    if isinstance(exc, (zlib.error, EOFError)) or "gzip" in lower or "decompress" in lower:
        prefix = "corrupt gzip stream"
    else:
        prefix = "malformed record"
    return f"{prefix} ({type(exc).__name__}: {text})" if text else f"{prefix} ({type(exc).__name__})"


def _is_gzip(fh: IO[bytes]) -> bool:
    fh.seek(0)
    return fh.read(2) == _GZIP_MAGIC[:2]


def _blank_from(fh: IO[bytes], offset: int) -> bool:
    """Whether the file holds only whitespace or NUL padding from ``offset`` on."""
    fh.seek(offset)
    while True:
        block = fh.read(_SCAN_BLOCK)
        if not block:
            return True
        if block.strip(b" \t\r\n\x00"):
            return False


def _one_gzip_member(fh: IO[bytes]) -> bool:
    """Whether the file is one gzip member (with at most padding after it): an unchunked WARC."""
    fh.seek(0)
    decompressor = zlib.decompressobj(wbits=31)
    try:
        while not decompressor.eof:
            block = fh.read(_SCAN_BLOCK)
            if not block:
                return False
            decompressor.decompress(block)  # output discarded; only where the member ends matters
    except zlib.error:
        return False
    rest = decompressor.unused_data
    return not rest.strip(b" \t\r\n\x00") and _blank_from(fh, fh.tell())


def _is_unchunked_gzip(exc: BaseException) -> bool:
    return "non-chunked gzip" in str(exc)


def _resync(fh: IO[bytes], start: int) -> int | None:
    """Offset of the next plausible record start at or after ``start``, or ``None`` at the end.

    For gzip files, the next gzip member header; otherwise the next ``WARC/1.x`` line.
    """
    gzipped = _is_gzip(fh)
    position = start
    fh.seek(position)
    tail = b""
    while True:
        block = fh.read(_SCAN_BLOCK)
        if not block:
            return None
        window = tail + block
        base = position - len(tail)
        if gzipped:
            found = window.find(_GZIP_MAGIC)
            if found >= 0:
                return base + found
        else:
            match = _WARC_MAGIC.search(window)
            if match:
                return base + match.start() + (1 if window[match.start():match.start() + 1] == b"\n" else 0)
        tail = window[-16:]
        position += len(block)


def _read_unchunked(fh: IO[bytes], name: str, done: int, skip: Skip, error: Error) -> Iterator[Document]:
    """Read a gzip file holding many records in one member, as one decompressed stream.

    The first ``done`` records were already read through the per-record reader and are passed.
    """
    log.info("%s: not compressed per record; reading it as one gzip stream", name)
    fh.seek(0)
    with gzip.GzipFile(fileobj=fh) as stream:
        iterator = _archive_iterator(stream)
        record_no = 0
        while True:
            try:
                record = next(iterator)
            except StopIteration:
                return
            except Exception as exc:  # noqa: BLE001 - warcio, gzip and zlib raise many kinds
                error(InputError(name, _reason(exc), f"record {record_no + 1}"))
                return
            record_no += 1
            if record_no <= done:
                continue
            try:
                doc = _document(record, name, record_no, skip)
            except (zlib.error, EOFError, OSError, ValueError) as exc:
                error(InputError(name, _reason(exc), f"record {record_no}"))
                return
            if doc is not None:
                yield doc
