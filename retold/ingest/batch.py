"""Many articles from files, folders, glob patterns and stdin, with a report of what was read.

:func:`iter_documents` expands its inputs in order, each one in sorted path order:

* a file is read by its extension: web archives (``.warc``, ``.warc.gz``, ``.arc``, ``.arc.gz``,
  ``.wat.gz``, ``.wet.gz``) by :mod:`retold.ingest.warc`, JSON Lines (``.jsonl``, ``.jsonl.gz``)
  by :mod:`retold.ingest.jsonl`, anything else as one article by :func:`retold.ingest.load`
  (``.txt``, ``.md``, ``.html``, ``.htm``, ``.json``, also gzip-compressed as ``.gz``);
* a folder is walked recursively for files with those extensions (hidden files and folders are
  left out);
* a pattern with ``*``, ``?`` or ``[`` is expanded as a glob (``**`` crosses folders);
* ``-`` reads stdin: JSON Lines when the first non-blank line is a JSON object and more lines
  follow, otherwise one article.

A file reached twice is read once. Records skipped by design (request records, non-HTML responses,
pages without article text, JSON records without text) are counted by reason in the
:class:`IngestReport`; malformed input (a bad JSON line, a broken WARC record, an unreadable file)
is an error, recorded with its source and position and skipped, or raised with ``strict=True``.
Files are streamed: a WARC or JSONL file is never read into memory whole.

Example:
    >>> report = IngestReport()
    >>> docs = list(iter_documents(["crawl/", "feeds/*.jsonl"], report=report))  # doctest: +SKIP
    >>> print(report.summary())  # doctest: +SKIP
    Read 1,204 documents from 9 files (jsonl 2, warc 7). Skipped 3,310 records: ...
"""

from __future__ import annotations

import glob
import gzip
import logging
import os
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import IO

from retold.errors import InputError
from retold.ingest import jsonl as _jsonl
from retold.ingest import warc as _warc
from retold.model import Document

__all__ = ["ARTICLE_SUFFIXES", "MAX_ERRORS_KEPT", "IngestReport", "iter_documents"]

log = logging.getLogger(__name__)

ARTICLE_SUFFIXES = (".txt", ".md", ".html", ".htm", ".json")
"""File endings read as one article each (also with ``.gz`` appended)."""

_JSONL_SUFFIXES = (".jsonl", ".jsonl.gz")
MAX_ERRORS_KEPT = 1000
""":attr:`IngestReport.errors` keeps the first this many errors; ``error_count`` counts them all."""

_GLOB_CHARS = frozenset("*?[")
# Problems of a single-article file that mean "no article here" rather than "broken input".
_SKIP_PROBLEMS = {
    "no article text found in HTML page": "no article text",
    "not an article: too little text": "too little text",
}


@dataclass
class IngestReport:
    """What one :func:`iter_documents` run read, skipped and failed on.

    Attributes:
        documents: documents yielded.
        skipped: records skipped by design, by reason (``"request record"``, ``"no text"``, ...).
        errors: the first :data:`MAX_ERRORS_KEPT` errors as ``(source, position, reason)``;
            ``position`` is ``"line 12"``, ``"record 7 (byte 5120)"`` or ``None``.
        error_count: all errors, including those beyond the ones kept.
        files: files opened, by format (``warc``, ``jsonl``, ``html``, ``text``, ...).
        documents_by_format: documents yielded, by format.
    """

    documents: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    errors: list[tuple[str, str | None, str]] = field(default_factory=list)
    error_count: int = 0
    files: Counter[str] = field(default_factory=Counter)
    documents_by_format: Counter[str] = field(default_factory=Counter)

    def add_error(self, error: InputError) -> None:
        """Count an error and keep it when fewer than :data:`MAX_ERRORS_KEPT` are kept."""
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append((error.source, error.position, error.problem))

    def add_skip(self, reason: str) -> None:
        """Count one record skipped by design."""
        self.skipped[reason] += 1

    def summary(self) -> str:
        """One paragraph: documents, files by format, skips by reason, errors with the first one.

        Example:
            >>> IngestReport(documents=2, files=Counter(jsonl=1)).summary()
            'Read 2 documents from 1 file (jsonl 1). No records skipped. No errors.'
        """
        n_files = sum(self.files.values())
        formats = ", ".join(f"{fmt} {count:,}" for fmt, count in sorted(self.files.items()))
        parts = [
            f"Read {self.documents:,} document{_s(self.documents)} from {n_files:,} "
            f"file{_s(n_files)}" + (f" ({formats})." if formats else ".")
        ]
        n_skipped = sum(self.skipped.values())
        if n_skipped:
            reasons = ", ".join(f"{count:,} {reason}" for reason, count in self.skipped.most_common())
            parts.append(f"Skipped {n_skipped:,} record{_s(n_skipped)}: {reasons}.")
        else:
            parts.append("No records skipped.")
        if self.error_count:
            source, position, problem = self.errors[0]
            where = f"{source} {position}" if position else source
            parts.append(f"{self.error_count:,} error{_s(self.error_count)}; the first: "
                         f"{where}: {problem}.")
        else:
            parts.append("No errors.")
        return " ".join(parts)


def iter_documents(
    inputs: Sequence[str | Path],
    *,
    strict: bool = False,
    report: IngestReport | None = None,
) -> Iterator[Document]:
    """Yield the documents in files, folders, glob patterns and stdin (``-``), in a fixed order.

    Args:
        inputs: paths, folders (walked recursively), glob patterns and ``-`` for stdin.
        strict: raise the first error instead of recording it and going on.
        report: filled in as documents are read; pass one to see the counts afterwards.

    Yields:
        Documents in input order; within a folder or pattern, in sorted path order; within a
        file, in record order.

    Raises:
        InputError: with ``strict=True``, the first input that is missing, unreadable or
            malformed (a bad JSON line, a broken WARC record).

    Example:
        >>> docs = list(iter_documents(["news/"]))  # doctest: +SKIP
    """
    report = report if report is not None else IngestReport()

    def on_error(error: InputError) -> None:
        if strict:
            raise error
        log.warning("%s", error)
        report.add_error(error)

    seen: set[Path] = set()
    for item in inputs:
        if str(item) == "-":
            docs = _read_stdin(report, on_error)
        else:
            docs = _read_input(item, seen, report, on_error)
        for doc in docs:
            report.documents += 1
            report.documents_by_format[doc.format] += 1
            yield doc


def _read_input(item: str | Path, seen: set[Path], report: IngestReport,
                on_error: _warc.Error) -> Iterator[Document]:
    path = Path(item)
    if path.is_dir():
        files = sorted(_walk(path))
        if not files:
            log.info("%s: no files with a known extension", path)
    elif path.is_file():
        files = [path]
    elif isinstance(item, str) and _GLOB_CHARS & set(item):
        files = sorted(Path(p) for p in glob.glob(item, recursive=True) if Path(p).is_file())
        if not files:
            on_error(InputError(item, "no file matches this pattern"))
    else:
        on_error(InputError(str(item), "file not found"))
        files = []
    for file in files:
        key = file.resolve()
        if key in seen:
            continue
        seen.add(key)
        yield from _read_file(file, report, on_error)


def _walk(folder: Path) -> Iterator[Path]:
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            if not name.startswith(".") and _known(name):
                yield Path(root, name)


def _known(name: str) -> bool:
    lower = name.lower()
    if _warc.is_warc_name(lower) or lower.endswith(_JSONL_SUFFIXES):
        return True
    lower = lower.removesuffix(".gz")
    return lower.endswith(ARTICLE_SUFFIXES)


def _read_file(path: Path, report: IngestReport, on_error: _warc.Error) -> Iterator[Document]:
    name = str(path)
    lower = path.name.lower()
    try:
        if _warc.is_warc_name(lower):
            report.files["warc"] += 1
            yield from _warc.read_warc(path, on_skip=report.add_skip, on_error=on_error)
        elif lower.endswith(_JSONL_SUFFIXES):
            report.files["jsonl"] += 1
            yield from _jsonl.read_jsonl(path, on_skip=report.add_skip, on_error=on_error)
        else:
            doc = _read_article(path)
            report.files[doc.format] += 1
            yield doc
    except InputError as exc:
        if exc.source == name and exc.position is None and exc.problem in _SKIP_PROBLEMS:
            report.files["html" if "HTML" in exc.problem else "text"] += 1
            report.add_skip(_SKIP_PROBLEMS[exc.problem])
        else:
            on_error(exc)


def _read_article(path: Path) -> Document:
    from retold.ingest import load, load_bytes

    if path.name.lower().endswith(".gz"):
        name = str(path)
        try:
            with gzip.open(path, "rb") as fh:
                data = fh.read()
        except (gzip.BadGzipFile, EOFError) as exc:
            raise InputError(name, f"corrupt gzip file ({exc})") from exc
        except OSError as exc:
            raise InputError(name, f"cannot read file: {exc.strerror or exc}") from exc
        return load_bytes(data, name.removesuffix(".gz"))
    return load(path)


def _read_stdin(report: IngestReport, on_error: _warc.Error) -> Iterator[Document]:
    """stdin as JSON Lines (first non-blank line a JSON object, more lines after) or one article."""
    yield from _read_stream(sys.stdin.buffer, "-", report, on_error)


def _read_stream(stream: IO[bytes], name: str, report: IngestReport,
                 on_error: _warc.Error) -> Iterator[Document]:
    """Read an unnamed byte stream (stdin) as JSON Lines or as one article; see :func:`iter_documents`."""
    from retold.ingest import load_bytes

    head: list[bytes] = []
    for line in stream:
        head.append(line)
        if line.strip():
            break
    first = head[-1] if head else b""
    if first.lstrip().startswith((b"{", b"\xef\xbb\xbf{")) and _is_object(first):
        second = b""
        for line in stream:
            head.append(line)
            if line.strip():
                second = line
                break
        if second:
            report.files["jsonl"] += 1
            yield from _jsonl.read_lines(chain(head, stream), name, on_skip=report.add_skip,
                                         on_error=on_error)
            return
    data = b"".join(head) + stream.read()
    try:
        doc = load_bytes(data, name)
    except InputError as exc:
        if exc.problem in _SKIP_PROBLEMS:
            report.files["text"] += 1
            report.add_skip(_SKIP_PROBLEMS[exc.problem])
        else:
            on_error(exc)
        return
    report.files[doc.format] += 1
    yield doc


def _is_object(line: bytes) -> bool:
    import json

    try:
        return isinstance(json.loads(line.decode("utf-8-sig")), dict)
    except (ValueError, RecursionError):
        return False


def _s(count: int) -> str:
    return "" if count == 1 else "s"
