"""The store: one directory holding a SQLite database and a faiss vector file.

Layout of a store directory::

    STORE/
      store.sqlite        documents, segments, terms and postings, MinHash signatures, embeddings
      store.sqlite-wal    SQLite's write-ahead log (WAL mode)
      vectors.faiss       a cache of the embeddings for nearest-neighbour search (rebuildable)
      write.lock          held (flock) by the one process that may write

Tables (``PRAGMA user_version`` = :data:`SCHEMA_VERSION`):

``settings(key, value)``
    ``format`` = ``retold-store`` and the feature settings (:data:`retold.retrieve.FEATURE_FIELDS`:
    shingle size, permutations, seed, encoder name, lead length, ...), JSON-encoded. Opening a store
    with other feature settings raises :class:`~retold.errors.StoreError`.
``documents(key, doc_id UNIQUE, content_hash UNIQUE, name, title, url, published, author, site, format, text, chars, shingles, added_at)``
    ``key`` is the internal integer key used by the LSH and the vector index; ``doc_id`` is the
    public id (the input's id, else the text hash). Re-adding a text already present is a no-op.
``segments(doc, kind, idx, role, start, end, paragraph)``
    paragraphs and sentences with half-open character offsets into ``documents.text``.
``terms(id, term UNIQUE, df)`` and ``postings(term, doc)``
    anchor terms and content words with their document frequency (an inverted index).
``signatures(doc, minhash)`` and ``embeddings(doc, vector)``
    MinHash signatures (uint32 blobs) and document vectors (float32 blobs).
``results(doc_a, doc_b, ...)`` and ``scanned(doc)`` (schema version 2)
    the judgements of ``retold scan`` (:mod:`retold.scan`): one row per unordered pair of document
    keys (``doc_a < doc_b``) and the documents whose candidates are all judged; plus the index
    ``postings_by_doc`` so that a stored document's terms are read back instead of recomputed
    (:meth:`Index.stored_features`). A version-1 store is upgraded in place (two new tables and one
    index, nothing rewritten) the first time it is opened writable; opened read-only it is read as
    is, with no scan results.

Durability: :meth:`Index.add` writes one transaction per batch, so a document is indexed fully or
not at all, and a ``kill -9`` at any moment leaves every committed batch intact (WAL mode with
``synchronous=NORMAL``: safe against a killed process; a power cut may lose the last batches but
never corrupts the file). Running the same add again resumes: documents already present are
skipped by their content hash before any feature is computed. ``vectors.faiss`` is only a cache;
when its count disagrees with SQLite it is caught up (or rebuilt) from the ``embeddings`` table and
written again atomically (temporary file, fsync, rename).

Example::

    >>> from retold.ingest.batch import iter_documents
    >>> with Index.open("store/", writable=True, create=True) as index:   # doctest: +SKIP
    ...     report = index.add(iter_documents(["news.jsonl"]))
    ...     print(report.added, index.stats()["documents"])
"""

from __future__ import annotations

import fcntl
import json
import logging
import multiprocessing
import os
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import StoreError
from .model import Document
from .processes import pool_worker_init
from .retrieve import (
    FEATURE_FIELDS,
    DocumentFeatures,
    RetrieveSettings,
    content_hash,
    features_batch,
)

logger = logging.getLogger(__name__)

__all__ = ["SCHEMA_VERSION", "AddReport", "Index"]

SCHEMA_VERSION = 2
"""``PRAGMA user_version`` of the stores this version writes (it also reads and upgrades version 1)."""

DB_NAME = "store.sqlite"
VECTORS_NAME = "vectors.faiss"
LOCK_NAME = "write.lock"
_FORMAT = "retold-store"
_CHUNK_DOCS = 16  # documents per task sent to a worker process
_SQL_VARS = 900  # parameters per IN (...) query
_COUNT_TTL_S = 2.0
"""Seconds a read-only :class:`Index` reuses its document count."""

_SCHEMA = """
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE documents (
    key INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL UNIQUE,
    content_hash TEXT NOT NULL UNIQUE,
    name TEXT, title TEXT, url TEXT, published TEXT, author TEXT, site TEXT, format TEXT,
    text TEXT NOT NULL,
    chars INTEGER NOT NULL,
    shingles INTEGER NOT NULL,
    added_at REAL NOT NULL
);
CREATE TABLE segments (
    doc INTEGER NOT NULL, kind TEXT NOT NULL, idx INTEGER NOT NULL, role TEXT NOT NULL,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, paragraph INTEGER NOT NULL,
    PRIMARY KEY (doc, kind, idx)
) WITHOUT ROWID;
CREATE TABLE terms (id INTEGER PRIMARY KEY, term TEXT NOT NULL UNIQUE, df INTEGER NOT NULL);
CREATE TABLE postings (term INTEGER NOT NULL, doc INTEGER NOT NULL, PRIMARY KEY (term, doc)) WITHOUT ROWID;
CREATE TABLE signatures (doc INTEGER PRIMARY KEY, minhash BLOB NOT NULL);
CREATE TABLE embeddings (doc INTEGER PRIMARY KEY, vector BLOB NOT NULL);
""" + """
CREATE TABLE results (
    doc_a INTEGER NOT NULL, doc_b INTEGER NOT NULL,
    derived INTEGER NOT NULL, derivative INTEGER NOT NULL, source INTEGER NOT NULL,
    probability REAL NOT NULL, type TEXT NOT NULL,
    coverage_derivative REAL NOT NULL, coverage_source REAL NOT NULL,
    direction_confidence REAL NOT NULL, direction_evidence TEXT NOT NULL,
    same_event INTEGER NOT NULL, stage TEXT NOT NULL, retrieval_score REAL NOT NULL,
    judged_at REAL NOT NULL,
    PRIMARY KEY (doc_a, doc_b)
) WITHOUT ROWID;
CREATE TABLE scanned (doc INTEGER PRIMARY KEY);
CREATE INDEX IF NOT EXISTS postings_by_doc ON postings (doc);
"""
_SCHEMA_V2 = _SCHEMA[_SCHEMA.index("CREATE TABLE results"):]


@dataclass
class AddReport:
    """What one :meth:`Index.add` call did.

    Attributes:
        seen: documents read from the input.
        added: documents newly indexed (committed).
        duplicates: documents skipped because their text is already in the store (or earlier in
            the same input): re-adding is a no-op.
        renamed: new texts whose input id was already taken by another text; they are stored as
            ``ID#HASH8`` (the first 8 hex digits of their content hash).
        batches: transactions committed.
        elapsed_s: wall time so far.
    """

    seen: int = 0
    added: int = 0
    duplicates: int = 0
    renamed: int = 0
    batches: int = 0
    elapsed_s: float = 0.0
    renamed_ids: list[str] = field(default_factory=list, repr=False)

    @property
    def docs_per_s(self) -> float:
        """Documents read per second of wall time (duplicates included)."""
        return self.seen / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def summary(self) -> str:
        """One line: added, skipped as duplicates, rate."""
        return (
            f"Added {self.added:,} document{'s' if self.added != 1 else ''} "
            f"({self.duplicates:,} already present, {self.renamed:,} renamed) "
            f"in {self.elapsed_s:.1f} s, {self.docs_per_s:,.0f} docs/s."
        )


ProgressCallback = Callable[[AddReport], None]


def _features_task(documents: list[Document], settings: RetrieveSettings) -> list[DocumentFeatures]:
    return features_batch(documents, settings)


def _chunks(items: Iterable[Document], size: int) -> Iterator[list[Document]]:
    chunk: list[Document] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class Index:
    """A retold store: documents, their features and the structures that find candidates.

    Open one with :meth:`open`; use it as a context manager or call :meth:`close`. Many readers
    may use a store at once; one writer at a time (a second gets :class:`StoreError`).

    Attributes:
        path: the store directory.
        settings: the retrieval settings, with the feature settings the store was built with.
        writable: whether :meth:`add` is allowed.
        lsh_build_s: seconds the in-memory MinHash-LSH (:class:`BandTable`) took to read and
            sort (``None`` until first used).
    """

    def __init__(self, path: Path, connection: sqlite3.Connection, settings: RetrieveSettings,
                 writable: bool, lock_fd: int | None) -> None:
        self.path = path
        self.settings = settings
        self.writable = writable
        self.lsh_build_s: float | None = None
        self._db = connection
        self._lock_fd = lock_fd
        self._bands: BandTable | None = None
        self._vectors: Any = None
        self._count: tuple[float, int] | None = None  # (when, count) of a read-only view

    # --- opening and closing ----------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        writable: bool = False,
        create: bool = False,
        settings: RetrieveSettings | None = None,
    ) -> Index:
        """Open (or create) the store in directory ``path``.

        Args:
            path: the store directory.
            writable: open for :meth:`add`; takes the store's write lock.
            create: create the store when the directory holds none (implies ``writable``).
            settings: retrieval settings. Their feature fields (:data:`FEATURE_FIELDS`) are
                recorded in a new store and must equal those of an existing one; ``None`` takes
                the store's.

        Raises:
            StoreError: no store at ``path`` (and not ``create``), a store of another schema
                version or other feature settings, a database that is not a retold store, or a
                store locked by another writer.

        Example:
            >>> index = Index.open(tmp / "store", create=True)   # doctest: +SKIP
        """
        root = Path(path)
        writable = writable or create
        db_path = root / DB_NAME
        if root.exists() and not root.is_dir():
            raise StoreError(f"{root}: not a directory, so not a retold store")
        if not db_path.exists():
            if not create:
                raise StoreError(f"{root}: no retold store here (create one with `retold index add {root} FILES`)")
            root.mkdir(parents=True, exist_ok=True)
        lock_fd = cls._lock(root) if writable else None
        try:
            connection = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
            try:
                connection.execute("PRAGMA busy_timeout = 10000")
                connection.execute("PRAGMA journal_mode = WAL")
                connection.execute("PRAGMA synchronous = NORMAL")
                stored_settings = cls._prepare(connection, root, writable, settings)
            except sqlite3.DatabaseError as exc:
                connection.close()
                raise StoreError(f"{root}: cannot read {DB_NAME}: {exc}") from exc
            except BaseException:
                connection.close()
                raise
            if not writable:
                connection.execute("PRAGMA query_only = 1")
        except BaseException:
            if lock_fd is not None:
                os.close(lock_fd)
            raise
        return cls(root, connection, stored_settings, writable, lock_fd)

    @staticmethod
    def _lock(root: Path) -> int:
        fd = os.open(root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise StoreError(f"{root}: locked by another writer (another `retold index add` is running)") from exc
        return fd

    @staticmethod
    def _prepare(connection: sqlite3.Connection, root: Path, writable: bool,
                 requested: RetrieveSettings | None) -> RetrieveSettings:
        settings = requested or RetrieveSettings()
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if version == 0 and not tables:
            if not writable:
                raise StoreError(f"{root}: the store is empty; add documents with `retold index add`")
            # One transaction: a store is created completely or not at all (executescript leaves the
            # transaction its script opened for us to finish).
            try:
                connection.executescript("BEGIN IMMEDIATE;" + _SCHEMA)
                values = {"format": _FORMAT, **settings.stored()}
                connection.executemany(
                    "INSERT INTO settings (key, value) VALUES (?, ?)",
                    [(k, json.dumps(v)) for k, v in values.items()],
                )
                connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
            return settings
        if "settings" not in tables:
            raise StoreError(f"{root}: {DB_NAME} is not a retold store")
        stored = {k: json.loads(v) for k, v in connection.execute("SELECT key, value FROM settings")}
        if stored.get("format") != _FORMAT:
            raise StoreError(f"{root}: {DB_NAME} is not a retold store")
        if version == 1 and writable:
            _upgrade_1_to_2(connection)
        elif version == SCHEMA_VERSION and writable:  # stores from before the index existed
            connection.execute("CREATE INDEX IF NOT EXISTS postings_by_doc ON postings (doc)")
        elif version not in (1, SCHEMA_VERSION):
            raise StoreError(
                f"{root}: store schema version {version}, but this retold reads version {SCHEMA_VERSION}; "
                "re-index into a new store"
            )
        if requested is not None:  # None: open with the store's own feature settings
            _check_stored(root, stored, requested)
        return RetrieveSettings.from_stored(stored, settings)

    def check_settings(self, settings: RetrieveSettings | None) -> RetrieveSettings:
        """``settings`` if their feature fields match the store's, the store's settings for ``None``.

        Raises:
            StoreError: a feature setting differs from the one the store was built with.
        """
        if settings is None:
            return self.settings
        _check_stored(self.path, self.settings.stored(), settings)
        return settings

    def close(self) -> None:
        """Close the database and release the write lock."""
        if self._db is not None:
            self._db.close()
            self._db = None  # type: ignore[assignment]
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Index({str(self.path)!r}, writable={self.writable})"

    # --- adding -----------------------------------------------------------------------------------

    def add(
        self,
        documents: Iterable[Document],
        batch_size: int = 256,
        progress: ProgressCallback | None = None,
        workers: int | None = None,
    ) -> AddReport:
        """Index documents, one SQLite transaction per ``batch_size`` documents.

        Documents whose text is already in the store are skipped before any work is done, so
        re-running an interrupted add resumes it. Features are computed in ``workers`` processes
        (forked, sharing the loaded encoder) while this process writes.

        Args:
            documents: the documents, e.g. from :func:`retold.ingest.batch.iter_documents`.
            batch_size: documents per transaction.
            progress: called with the running :class:`AddReport` after each committed batch.
            workers: feature processes; ``None`` uses every CPU (at most 8), ``1`` works in this
                process. Small inputs (fewer than two chunks) always work in this process.

        Returns:
            The counts of this call.

        Raises:
            StoreError: the store was opened read-only.
        """
        if not self.writable:
            raise StoreError(f"{self.path}: opened read-only; open with writable=True to add documents")
        if batch_size < 1:
            raise StoreError(f"batch_size must be at least 1, got {batch_size}")
        report = AddReport()
        started = time.perf_counter()
        seen_hashes: set[str] = set()
        buffer: list[tuple[Document, DocumentFeatures]] = []

        def fresh() -> Iterator[Document]:
            for document in documents:
                report.seen += 1
                digest = content_hash(document.text)
                if digest in seen_hashes or self.key_of_hash(digest) is not None:
                    report.duplicates += 1
                    continue
                seen_hashes.add(digest)
                yield document

        def flush() -> None:
            if buffer:
                self._write_batch(buffer[:batch_size], report)
                del buffer[:batch_size]
                report.batches += 1
            report.elapsed_s = time.perf_counter() - started
            if progress is not None:
                progress(report)

        def take(chunk_docs: list[Document], chunk_features: list[DocumentFeatures]) -> None:
            buffer.extend(zip(chunk_docs, chunk_features))
            while len(buffer) >= batch_size:
                flush()

        n_workers = min(os.cpu_count() or 1, 8) if workers is None else max(1, workers)
        chunk_size = max(1, min(_CHUNK_DOCS, batch_size))
        stream = _chunks(fresh(), chunk_size)
        first = [c for _, c in zip(range(2), stream)]
        if n_workers == 1 or len(first) < 2:
            for chunk in first:
                take(chunk, features_batch(chunk, self.settings))
            for chunk in stream:
                take(chunk, features_batch(chunk, self.settings))
        else:
            self._add_parallel(first, stream, n_workers, take)
        while buffer:
            flush()
        if not report.batches:
            flush()  # report once even when nothing was new
        self._sync_vectors(save=True)
        return report

    def _add_parallel(self, first: list[list[Document]], stream: Iterator[list[Document]], n_workers: int,
                      take: Callable[[list[Document], list[DocumentFeatures]], None]) -> None:
        from threadpoolctl import threadpool_limits

        from .encoders import get_encoder

        get_encoder(self.settings.encoder)  # load once here; forked workers share it
        try:
            context: multiprocessing.context.BaseContext = multiprocessing.get_context("fork")
        except ValueError:  # pragma: no cover - platforms without fork
            context = multiprocessing.get_context()
        pending: deque[tuple[list[Document], Future[list[DocumentFeatures]]]] = deque()
        # one BLAS thread here too: forked workers start with this process's thread settings
        with threadpool_limits(limits=1, user_api="blas"), ProcessPoolExecutor(
            max_workers=n_workers, mp_context=context, initializer=pool_worker_init, initargs=(os.getpid(),)
        ) as pool:
            for chunk in _iter_chain(first, stream):
                pending.append((chunk, pool.submit(_features_task, chunk, self.settings)))
                while len(pending) > 2 * n_workers:
                    docs, future = pending.popleft()
                    take(docs, future.result())
            while pending:
                docs, future = pending.popleft()
                take(docs, future.result())

    def _write_batch(self, batch: Sequence[tuple[Document, DocumentFeatures]], report: AddReport) -> None:
        db = self._db
        now = time.time()
        db.execute("BEGIN IMMEDIATE")
        try:
            term_docs: dict[str, list[int]] = {}
            new: list[tuple[int, DocumentFeatures]] = []
            for document, features in batch:
                if self.key_of_hash(features.content_hash) is not None:  # added by a concurrent run
                    report.duplicates += 1
                    continue
                doc_id = document.id
                if db.execute("SELECT 1 FROM documents WHERE doc_id = ?", (doc_id,)).fetchone():
                    doc_id = f"{document.id}#{features.content_hash[:8]}"
                    report.renamed += 1
                    report.renamed_ids.append(doc_id)
                    logger.warning("id %r is taken by another text; stored as %r", document.id, doc_id)
                cursor = db.execute(
                    "INSERT INTO documents (doc_id, content_hash, name, title, url, published, author, site, "
                    "format, text, chars, shingles, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (doc_id, features.content_hash, document.name, document.title, document.url,
                     document.published, document.author, document.site, document.format, document.text,
                     len(document.text), features.shingle_count, now),
                )
                key = int(cursor.lastrowid)  # type: ignore[arg-type]
                seg = features.segmentation
                db.executemany(
                    'INSERT INTO segments (doc, kind, idx, role, start, "end", paragraph) VALUES (?, ?, ?, ?, ?, ?, ?)',
                    [(key, s.kind, s.index, s.role, s.start, s.end, s.paragraph)
                     for s in (*seg.paragraphs, *seg.sentences)],
                )
                db.execute("INSERT INTO signatures (doc, minhash) VALUES (?, ?)",
                           (key, features.minhash.astype("<u4").tobytes()))
                if features.embedding is not None:
                    db.execute("INSERT INTO embeddings (doc, vector) VALUES (?, ?)",
                               (key, features.embedding.astype("<f4").tobytes()))
                for term in features.terms:
                    term_docs.setdefault(term, []).append(key)
                new.append((key, features))
            db.executemany(
                "INSERT INTO terms (term, df) VALUES (?, ?) ON CONFLICT (term) DO UPDATE SET df = df + excluded.df",
                [(term, len(keys)) for term, keys in term_docs.items()],
            )
            ids = self._term_ids(list(term_docs))
            db.executemany(
                "INSERT INTO postings (term, doc) VALUES (?, ?)",
                [(ids[term], key) for term, keys in term_docs.items() for key in keys],
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        report.added += len(new)
        if self._bands is not None:
            rows = [(k, f.minhash) for k, f in new if f.shingle_count]
            if rows:
                self._bands.add(np.asarray([k for k, _ in rows], dtype=np.int64),
                                np.stack([m for _, m in rows]).astype(np.uint32))
        if self._vectors is not None:
            rows = [(k, f.embedding) for k, f in new if f.embedding is not None]
            if rows:
                self._vectors.add_with_ids(np.stack([v for _, v in rows]).astype(np.float32),
                                           np.asarray([k for k, _ in rows], dtype=np.int64))

    def _term_ids(self, terms: Sequence[str]) -> dict[str, int]:
        ids: dict[str, int] = {}
        for start in range(0, len(terms), _SQL_VARS):
            part = terms[start : start + _SQL_VARS]
            marks = ",".join("?" * len(part))
            ids.update(self._db.execute(f"SELECT term, id FROM terms WHERE term IN ({marks})", part).fetchall())
        return ids

    # --- reading ----------------------------------------------------------------------------------

    @property
    def db(self) -> sqlite3.Connection:
        """The SQLite connection, for stages that keep their own tables (:mod:`retold.scan`)."""
        return self._db

    @property
    def schema_version(self) -> int:
        """``PRAGMA user_version`` of the open store (1: no scan tables yet)."""
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def stored_features(self, keys: Sequence[int]) -> dict[int, DocumentFeatures]:
        """Retrieval features of stored documents, read back from the store (no recomputation).

        The ``segmentation`` and ``lead`` fields are left empty; everything
        :func:`retold.retrieve.candidates` reads (hash, signature, shingle count, terms, vector) is
        filled in. Costs a few SQL lookups instead of ~35 ms of fact extraction per news article.
        """
        from .model import Segmentation

        keys = list(keys)
        signatures = self.signatures(keys)
        vectors = self.embeddings(keys)
        hashes: dict[int, str] = {}
        terms: dict[int, list[str]] = {k: [] for k in keys}
        by_doc = self.schema_version >= 2
        for part in _parts(keys):
            marks = ",".join("?" * len(part))
            hashes.update(self._db.execute(f"SELECT key, content_hash FROM documents WHERE key IN ({marks})", part))
            if by_doc:
                for doc, term in self._db.execute(
                    f"SELECT p.doc, t.term FROM postings p JOIN terms t ON t.id = p.term WHERE p.doc IN ({marks})", part
                ):
                    terms[int(doc)].append(term)
        if not by_doc:  # a version-1 store opened read-only: no index by document, recompute
            from .retrieve import document_features

            docs = self.documents_by_key(keys)
            terms = {k: list(document_features(docs[k], self.settings, embed=False).terms) for k in keys}
        out: dict[int, DocumentFeatures] = {}
        for key in keys:
            signature, count = signatures[key]
            out[key] = DocumentFeatures(
                content_hash=hashes[key], segmentation=Segmentation((), ()), shingle_count=count,
                minhash=signature, terms=tuple(sorted(terms[key])), lead="", embedding=vectors.get(key),
            )
        return out

    def count(self) -> int:
        """Number of documents in the store.

        A read-only view recounts at most every :data:`_COUNT_TTL_S` seconds: a retrieval asks for
        the count once per query, and counting 100k rows costs ~3 ms.
        """
        now = time.monotonic()
        if not self.writable and self._count is not None and now - self._count[0] < _COUNT_TTL_S:
            return self._count[1]
        count = int(self._db.execute("SELECT COUNT(*) FROM documents").fetchone()[0])
        if not self.writable:
            self._count = (now, count)
        return count

    def __len__(self) -> int:
        return self.count()

    def __contains__(self, doc_id: object) -> bool:
        return self._db.execute("SELECT 1 FROM documents WHERE doc_id = ?", (doc_id,)).fetchone() is not None

    def key_of_hash(self, digest: str) -> int | None:
        """The internal key of the document with this content hash, ``None`` when absent."""
        row = self._db.execute("SELECT key FROM documents WHERE content_hash = ?", (digest,)).fetchone()
        return int(row[0]) if row else None

    _DOC_COLUMNS = "key, doc_id, name, title, url, published, author, site, format, text"

    @staticmethod
    def _document(row: Sequence[Any]) -> Document:
        _, doc_id, name, title, url, published, author, site, fmt, text = row
        return Document(text=text, id=doc_id, name=name or doc_id, title=title, url=url, published=published,
                        author=author, site=site, format=fmt or "text")

    def get(self, doc_id: str) -> Document:
        """The document with id ``doc_id``.

        Raises:
            KeyError: no such document.
        """
        row = self._db.execute(f"SELECT {self._DOC_COLUMNS} FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        if row is None:
            raise KeyError(doc_id)
        return self._document(row)

    def documents(self) -> Iterator[Document]:
        """Every document, in the order they were added (streamed, not loaded at once)."""
        last = 0
        while True:
            rows = self._db.execute(
                f"SELECT {self._DOC_COLUMNS} FROM documents WHERE key > ? ORDER BY key LIMIT 500", (last,)
            ).fetchall()
            if not rows:
                return
            for row in rows:
                yield self._document(row)
            last = rows[-1][0]

    def documents_by_key(self, keys: Sequence[int]) -> dict[int, Document]:
        """Documents by internal key."""
        out: dict[int, Document] = {}
        for part in _parts(keys):
            marks = ",".join("?" * len(part))
            for row in self._db.execute(f"SELECT {self._DOC_COLUMNS} FROM documents WHERE key IN ({marks})", part):
                out[int(row[0])] = self._document(row)
        return out

    def doc_ids(self, keys: Sequence[int]) -> dict[int, str]:
        """Public ids by internal key."""
        out: dict[int, str] = {}
        for part in _parts(keys):
            marks = ",".join("?" * len(part))
            out.update(self._db.execute(f"SELECT key, doc_id FROM documents WHERE key IN ({marks})", part).fetchall())
        return out

    def stats(self) -> dict[str, Any]:
        """Counts and sizes.

        Returns:
            ``documents``, ``paragraphs``, ``sentences``, ``terms``, ``postings``, ``signatures``,
            ``embeddings``, ``text_chars``; ``files`` (bytes of each file in the store directory),
            ``bytes_total``, ``bytes_per_document``; ``schema_version`` and ``settings`` (the
            stored feature settings).
        """
        db = self._db
        counts = {
            "documents": self.count(),
            "paragraphs": db.execute("SELECT COUNT(*) FROM segments WHERE kind = 'paragraph'").fetchone()[0],
            "sentences": db.execute("SELECT COUNT(*) FROM segments WHERE kind = 'sentence'").fetchone()[0],
            "terms": db.execute("SELECT COUNT(*) FROM terms").fetchone()[0],
            "postings": db.execute("SELECT COUNT(*) FROM postings").fetchone()[0],
            "signatures": db.execute("SELECT COUNT(*) FROM signatures").fetchone()[0],
            "embeddings": db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0],
            "text_chars": db.execute("SELECT COALESCE(SUM(chars), 0) FROM documents").fetchone()[0],
        }
        files = {p.name: p.stat().st_size for p in sorted(self.path.iterdir()) if p.is_file() and p.name != LOCK_NAME}
        total = sum(files.values())
        return {
            "path": str(self.path),
            "schema_version": SCHEMA_VERSION,
            **counts,
            "files": files,
            "bytes_total": total,
            "bytes_per_document": round(total / counts["documents"]) if counts["documents"] else 0,
            "settings": {k: v for k, v in self.settings.stored().items()},
        }

    # --- retrieval structures -------------------------------------------------------------------------

    def term_stats(self, terms: Sequence[str]) -> dict[str, tuple[int, int]]:
        """``{term: (term_id, document_frequency)}`` for the terms present in the store."""
        out: dict[str, tuple[int, int]] = {}
        for part in _parts(list(terms)):
            marks = ",".join("?" * len(part))
            for term, term_id, df in self._db.execute(f"SELECT term, id, df FROM terms WHERE term IN ({marks})", part):
                out[term] = (int(term_id), int(df))
        return out

    def postings(self, term_ids: Sequence[int]) -> list[tuple[int, int]]:
        """``(term_id, document key)`` for every document holding one of the terms."""
        rows: list[tuple[int, int]] = []
        for part in _parts(list(term_ids)):
            marks = ",".join("?" * len(part))
            rows.extend(self._db.execute(f"SELECT term, doc FROM postings WHERE term IN ({marks})", part).fetchall())
        return rows

    def signatures(self, keys: Sequence[int]) -> dict[int, tuple[np.ndarray, int]]:
        """``{key: (minhash signature, shingle count)}``."""
        out: dict[int, tuple[np.ndarray, int]] = {}
        for part in _parts(list(keys)):
            marks = ",".join("?" * len(part))
            for key, blob, count in self._db.execute(
                f"SELECT s.doc, s.minhash, d.shingles FROM signatures s JOIN documents d ON d.key = s.doc "
                f"WHERE s.doc IN ({marks})", part,
            ):
                out[int(key)] = (np.frombuffer(blob, dtype="<u4"), int(count))
        return out

    def embeddings(self, keys: Sequence[int]) -> dict[int, np.ndarray]:
        """``{key: document vector}`` for the keys that have one."""
        out: dict[int, np.ndarray] = {}
        for part in _parts(list(keys)):
            marks = ",".join("?" * len(part))
            for key, blob in self._db.execute(f"SELECT doc, vector FROM embeddings WHERE doc IN ({marks})", part):
                out[int(key)] = np.frombuffer(blob, dtype="<f4")
        return out

    def _band_table(self) -> BandTable:
        """The LSH band table of every stored signature, read on first use."""
        if self._bands is None:
            started = time.perf_counter()
            keys: list[int] = []
            blobs: list[bytes] = []
            for key, blob in self._db.execute(
                "SELECT s.doc, s.minhash FROM signatures s JOIN documents d ON d.key = s.doc WHERE d.shingles > 0"
            ):
                keys.append(key)
                blobs.append(blob)
            matrix = np.frombuffer(b"".join(blobs), dtype="<u4").astype(np.uint32, copy=False)
            bands = BandTable(*_lsh_shape(self.settings.lsh_threshold, self.settings.num_perm))
            bands.add(np.asarray(keys, dtype=np.int64), matrix.reshape(len(blobs), self.settings.num_perm))
            self._bands = bands
            self.lsh_build_s = time.perf_counter() - started
            logger.info("read %d MinHash signatures of %s into LSH bands in %.2f s", len(keys), self.path,
                        self.lsh_build_s)
        return self._bands

    def query_lsh(self, signature: np.ndarray) -> list[int]:
        """Keys of the documents sharing an LSH bucket with ``signature`` (see :class:`BandTable`).

        A document is returned when all ``r`` values of at least one of the ``b`` bands equal the
        query's, with the ``(b, r)`` datasketch's ``MinHashLSH`` picks for the store's threshold:
        the same keys as datasketch's hash tables (tested), found in sorted arrays.
        """
        return self._band_table().query(np.asarray(signature, dtype=np.uint32))

    def vectors(self) -> Any:
        """The faiss index of document vectors (loaded, caught up or rebuilt on first use)."""
        if self._vectors is None:
            self._sync_vectors(save=True)
        return self._vectors

    def query_vectors(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The ``k`` nearest documents by cosine: ``[(key, cosine)]``, nearest first."""
        return self.query_vectors_many(np.asarray(vector, dtype=np.float32).reshape(1, -1), k)[0]

    def query_vectors_many(self, vectors: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        """:meth:`query_vectors` for each row of ``vectors`` in one search.

        One search of many queries runs as a matrix product: at 100k stored vectors, 17 ms for one
        query alone, about 2 ms each in a batch of 32 (one core).
        """
        index = self.vectors()
        if index is None or index.ntotal == 0:
            return [[] for _ in range(len(vectors))]
        if len(vectors) > 1:  # faiss computes fewer than 20 queries one by one unless told to use BLAS
            import faiss

            faiss.cvar.distance_compute_blas_threshold = 2
        scores, keys = index.search(np.ascontiguousarray(vectors, dtype=np.float32), min(k, index.ntotal))
        return [[(int(key), float(score)) for key, score in zip(row_keys, row_scores) if key >= 0]
                for row_keys, row_scores in zip(keys, scores)]

    def _sync_vectors(self, save: bool) -> None:
        """Bring the faiss index in line with the ``embeddings`` table; rewrite the file if it changed."""
        import faiss

        db_count = int(self._db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0])
        file = self.path / VECTORS_NAME
        index = self._vectors
        changed = False
        if index is None and file.exists():
            try:
                index = faiss.read_index(str(file))
            except RuntimeError as exc:  # a damaged cache: rebuild it
                logger.warning("%s: %s; rebuilding it", file, exc)
                index = None
        if index is not None and index.ntotal != db_count:
            max_key = int(faiss.vector_to_array(index.id_map).max()) if index.ntotal else 0
            missing = db_count - index.ntotal
            newer = int(self._db.execute("SELECT COUNT(*) FROM embeddings WHERE doc > ?", (max_key,)).fetchone()[0])
            if missing > 0 and newer == missing:
                self._add_vectors(index, "WHERE doc > ?", (max_key,))
            else:
                index = None
            changed = True
        if index is None:
            dim = self._db.execute("SELECT length(vector) / 4 FROM embeddings LIMIT 1").fetchone()
            if dim is None:
                self._vectors = None
                return
            index = faiss.IndexIDMap2(faiss.IndexFlatIP(int(dim[0])))
            self._add_vectors(index, "", ())
            changed = True
        self._vectors = index
        if changed and save:
            self._write_vectors(index)

    def _add_vectors(self, index: Any, where: str, params: tuple[Any, ...]) -> None:
        cursor = self._db.execute(f"SELECT doc, vector FROM embeddings {where} ORDER BY doc", params)
        while True:
            rows = cursor.fetchmany(10_000)
            if not rows:
                break
            keys = np.asarray([r[0] for r in rows], dtype=np.int64)
            vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), -1)
            index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), keys)

    def _write_vectors(self, index: Any) -> None:
        import faiss

        target = self.path / VECTORS_NAME
        tmp = self.path / f".{VECTORS_NAME}.{os.getpid()}.tmp"
        try:
            faiss.write_index(index, str(tmp))
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except OSError as exc:  # a read-only store still answers queries from memory
            logger.info("cannot write %s: %s", target, exc)
            if tmp.exists():
                tmp.unlink()


# datasketch's choice for the default settings, known here so that a query needs no datasketch
# import (it imports scipy: ~0.9 s of a one-off `retold trace`); tests/test_index.py checks it.
_LSH_SHAPES: dict[tuple[float, int], tuple[int, int]] = {(0.1, 128): (64, 2)}


class BandTable:
    """MinHash-LSH buckets as sorted arrays: for each band, every document's band value, sorted.

    A query looks its ``b`` band values up with binary search (``np.searchsorted``) and returns the
    documents equal in at least one band: the buckets of datasketch's ``MinHashLSH`` with the same
    ``(b, r)``, without its hash tables. Measured at 100k documents (b=64, r=2): datasketch's
    tables took 31 s to build and ~1.5 GB per process (each scan worker holds one); these arrays
    take ~1 s and ~80 MB, and a query ~0.3 ms. Rows added after the sort wait in a small unsorted
    part, compared directly, until it is merged.

    Example:
        >>> table = BandTable(bands=2, rows=2)
        >>> table.add(np.array([7, 8]), np.array([[1, 2, 3, 4], [1, 2, 9, 9]], dtype=np.uint32))
        >>> table.query(np.array([5, 5, 3, 4], dtype=np.uint32)), table.query(np.array([1, 2, 0, 0], dtype=np.uint32))
        ([7], [7, 8])
    """

    MERGE_ROWS = 4096

    def __init__(self, bands: int, rows: int) -> None:
        self.bands, self.rows = bands, rows
        self._keys = np.empty(0, dtype=np.int64)
        self._sorted: list[tuple[np.ndarray, np.ndarray]] = []  # per band: (sorted values, positions in _keys)
        self._pending_keys: list[np.ndarray] = []
        self._pending_values: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self._keys) + sum(len(k) for k in self._pending_keys)

    def _values(self, signatures: np.ndarray) -> np.ndarray:
        """``(n, bands)`` band values: each band's ``rows`` uint32 as one comparable item."""
        width = self.bands * self.rows
        part = np.ascontiguousarray(np.asarray(signatures, dtype=np.uint32).reshape(-1, signatures.shape[-1])[:, :width])
        if self.rows == 1:
            return part
        if self.rows == 2:
            return part.view(np.uint64)
        return part.view(np.dtype(f"V{4 * self.rows}"))

    def add(self, keys: np.ndarray, signatures: np.ndarray) -> None:
        """Add documents (``keys``) with their signatures (one row each)."""
        if not len(keys):
            return
        self._pending_keys.append(np.asarray(keys, dtype=np.int64))
        self._pending_values.append(self._values(signatures))
        if sum(len(k) for k in self._pending_keys) >= self.MERGE_ROWS or not len(self._keys):
            self._merge()

    def _merge(self) -> None:
        keys = np.concatenate([self._keys, *self._pending_keys])
        old = [values[np.argsort(positions)] for values, positions in self._sorted] if self._sorted else None
        values = np.concatenate(([np.stack(old, axis=1)] if old is not None else []) + self._pending_values)
        self._keys = keys
        self._sorted = []
        for band in range(self.bands):
            column = np.ascontiguousarray(values[:, band])
            order = np.argsort(column, kind="stable").astype(np.int32)
            self._sorted.append((column[order], order))
        self._pending_keys, self._pending_values = [], []

    def query(self, signature: np.ndarray) -> list[int]:
        """Keys sharing at least one band with ``signature``, ascending."""
        query = self._values(signature.reshape(1, -1))[0]
        hits: list[np.ndarray] = []
        for band, (values, positions) in enumerate(self._sorted):
            low = np.searchsorted(values, query[band], side="left")
            high = np.searchsorted(values, query[band], side="right")
            if high > low:
                hits.append(self._keys[positions[low:high]])
        for keys, values in zip(self._pending_keys, self._pending_values):
            hits.append(keys[(values == query).any(axis=1)])
        if not hits:
            return []
        return [int(k) for k in np.unique(np.concatenate(hits))]


def _lsh_shape(threshold: float, num_perm: int) -> tuple[int, int]:
    """``(bands, rows)`` datasketch's MinHashLSH picks for this threshold and signature length."""
    shape = _LSH_SHAPES.get((threshold, num_perm))
    if shape is None:
        from datasketch import MinHashLSH  # type: ignore[import-untyped, unused-ignore]

        lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        shape = _LSH_SHAPES[(threshold, num_perm)] = (int(lsh.b), int(lsh.r))
    return shape


def _upgrade_1_to_2(connection: sqlite3.Connection) -> None:
    """Add the scan tables to a version-1 store, in one transaction."""
    try:
        connection.executescript("BEGIN IMMEDIATE;" + _SCHEMA_V2)
        connection.execute("PRAGMA user_version = 2")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
    logger.info("upgraded the store to schema version 2 (scan results)")


def _check_stored(root: Path, stored: dict[str, Any], settings: RetrieveSettings) -> None:
    wanted = settings.stored()
    differences = [
        f"{name}={json.dumps(stored.get(name))} (asked for {json.dumps(wanted[name])})"
        for name in (*FEATURE_FIELDS, "minhash_scheme")
        if name in stored and stored[name] != wanted[name]
    ]
    if differences:
        raise StoreError(
            f"{root}: the store was built with {', '.join(differences)}; "
            "open it with its own settings or index into a new store"
        )


def _parts(items: Sequence[Any]) -> Iterator[list[Any]]:
    items = list(items)
    for start in range(0, len(items), _SQL_VARS):
        yield items[start : start + _SQL_VARS]


def _iter_chain(first: list[list[Document]], rest: Iterator[list[Document]]) -> Iterator[list[Document]]:
    yield from first
    yield from rest
