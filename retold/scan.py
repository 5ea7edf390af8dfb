"""``scan``: every derivation inside a store, as edges and clusters.

For every document of an :class:`~retold.index.Index`, :func:`retold.retrieve.candidates` proposes
its likely relatives; every *unordered* pair is judged once by
:func:`retold.compare.compare_documents`, and the derived pairs become **edges** (derivative,
source, probability, type, coverage of both sides, direction evidence).

Two-tier judging
    Each pair is first compared with the lexical-only compare (``Settings().with_encoder("none")``,
    ~10 ms per news pair). Only when that verdict is uncertain (probability in
    ``[escalate_low, escalate_high)``) or when retrieval says paraphrase is likely (lead vector
    cosine at least ``paraphrase_cosine`` while the lexical compare saw no reuse) is the pair compared
    again with the full semantic compare (~0.3-0.5 s per pair with the USE encoder). The stage that
    decided each pair is stored (``lexical`` or ``semantic``); ``escalate="always"`` and ``"never"``
    turn the tiers off, for measuring what the shortcut costs.

Direction
    Each pair is compared with the later-added document first. The judge orients a pair by
    publication dates when both are known, else by the texts (coverage, length); when the texts
    say too little it keeps the first text as the derivative, so an archive added in publication
    order gets the earlier article as the source.

Resumability
    Judgements live in the store (tables ``results`` and ``scanned``, schema version 2; see
    :mod:`retold.index`). Documents are scanned in batches; one SQLite transaction commits a batch's
    new pair judgements together with the mark that its documents are scanned. A ``kill -9`` loses
    at most the batch in flight; the next run skips scanned documents and pairs already judged, so it
    ends with the same edges and no duplicates (the pair is the table's primary key).

Clusters
    Stories (:func:`story_groups`): derived edges join their documents; *same-event* judgements
    (verdict type ``same event``, or, for pairs only judged lexically, strong retrieval evidence of a
    shared story: rare anchors and a close lead vector) join two groups when at least half of
    their cross pairs are so linked (average linkage), so a season of related stories does not
    chain into one cluster. An independent report of the same event joins the story's cluster
    but never gets an edge. Each cluster names its earliest source: the
    member with the earliest published date when dates are known, else the root of the derivation
    edges (a source that is nobody's derivative, with the most derivatives), counting only edges
    whose direction is clear (confidence ≥ 0.6) when there are any.

Example::

    >>> from retold.index import Index
    >>> with Index.open("store/", writable=True) as index:        # doctest: +SKIP
    ...     result = scan(index)
    ...     result.write("out/")
    ...     print(result.stats.edges, len(result.clusters))
"""

from __future__ import annotations

import csv
import heapq
import html
import io
import json
import logging
import multiprocessing
import os
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .errors import ConfigError, StoreError
from .judge import JudgeSettings

if TYPE_CHECKING:  # pragma: no cover
    from .compare import Settings
    from .index import Index
    from .model import CompareResult, Document

logger = logging.getLogger(__name__)

CLUSTER_LINKAGE = 0.5
"""Least share of same-event links among two groups' cross pairs for them to form one cluster."""

__all__ = ["EDGE_COLUMNS", "PAIR_COLUMNS", "SCHEMA_VERSION", "Cluster", "Edge", "ScanProgress", "ScanResult",
           "ScanSettings", "ScanStats", "build_result", "collapse_near_duplicates", "judge_pairs", "load_scan", "needs_semantic", "scan",
           "story_groups"]

SCHEMA_VERSION = "1.0"
"""Version of the scan exports (``clusters.json`` and the edge tables)."""

EDGE_COLUMNS = ("derivative", "source", "probability", "type", "coverage_derivative", "coverage_source",
                "direction_confidence", "direction_evidence", "cluster")
"""The columns of ``edges.jsonl``, ``edges.csv`` and ``edges.parquet``, in order."""

PAIR_COLUMNS = ("a", "b", "derived", "derivative", "source", "probability", "type", "coverage_derivative",
                "coverage_source", "direction_confidence", "direction_evidence", "same_event", "stage",
                "retrieval_score")
"""The columns of ``pairs.parquet`` (one row per judged pair, derived or not), in order.

``a``, ``b``: the pair's document ids, ``a`` added (or read) first; ``derived`` and ``same_event``:
booleans; ``derivative``, ``source``: the ids in the direction the judge gave, empty (null) for
pairs the retrieval gate settled without a compare; ``probability``, ``type``, the two coverages,
``direction_confidence`` and ``direction_evidence`` (reasons joined by ``"; "``) as in
:data:`EDGE_COLUMNS`; ``stage``: ``retrieval``, ``lexical`` or ``semantic``; ``retrieval_score``:
the candidate score that proposed the pair. These are the columns of the store's ``results``
table and of the Spark ``judgements`` checkpoint, with document ids in place of keys and without
the time of judging.
"""

Escalate = Literal["auto", "never", "always"]


@dataclass(frozen=True)
class ScanSettings:
    """The knobs of :func:`scan`.

    Attributes:
        limit_candidates: candidates retrieved per document (each proposes one pair).
        min_candidate_score: candidates with a lower retrieval score are not judged (0.08: above
            the median score of unrelated BBC candidates, below every true rewrite measured).
        judge_shingles, judge_anchors, judge_cosine: the retrieval gate. A candidate pair is
            compared only when its estimated shingle containment, its shared rare-term weight or
            its lead-vector cosine reaches these; other pairs are recorded as judged by retrieval
            alone (not derived; same event when the same-event rule below holds). Measured on the
            1k benchmark corpus: the gate keeps 99.2 % of the true candidate pairs and 22 % of the
            others, so scan compares ~4x fewer pairs.
        escalate: ``auto`` (two tiers), ``never`` (lexical only) or ``always`` (semantic only).
        min_fact_agreement, min_facts: the template filter. A derived verdict whose fact diff
            changes more facts than it keeps (``kept / (kept + changed)`` below this share, with
            at least ``min_facts`` facts compared) is recorded as not derived, type ``shared
            template``: wire boilerplate such as Reuters' earnings reports ("Shr 12 cts vs 10 cts")
            aligns sentence by sentence while every figure and name differs. True rewrites keep
            their facts (0.7-1.0 on our examples and generated rewrites).
        escalate_low, escalate_high: a lexical probability in ``(low, high)`` is uncertain and
            re-judged semantically. ``low`` sits just above the judge's no-evidence floor (0.217:
            the probability the lexical compare gives a pair with no aligned sentence at all).
        escalate_score, paraphrase_cosine: a pair the lexical compare found not derived is
            re-judged semantically when its retrieval score is at least ``escalate_score`` or the
            cosine of the two lead vectors at least ``paraphrase_cosine`` (a likely paraphrase:
            shared names and figures, or the same lead, but few shared word sequences).
        same_event_anchors, same_event_cosine: a lexically judged, not derived pair counts as the
            same event when it shares at least this share of rare-term weight *and* its lead
            vectors are at least this close.
        duplicate_jaccard: near-duplicates (estimated shingle Jaccard at least this) are judged in
            a star, see :func:`collapse_near_duplicates` (``> 1``: off, every candidate pair is
            judged). Measured on the 100k benchmark store: copies of one article score 0.91-0.99,
            42 % of the compared pairs were such copies; 31 of 1,471 other compared pairs reached
            0.9 (byte-near re-issues, which are near-duplicates too).
        batch_docs: documents per committed batch.
        workers: processes for retrieval and judging; ``None``: one per CPU (at most 8); ``1``: in
            this process. Small stores (fewer than two batches) are scanned in this process.

    Example:
        >>> ScanSettings(escalate="never").escalate
        'never'
    """

    limit_candidates: int = 10
    min_candidate_score: float = 0.08
    judge_shingles: float = 0.05
    judge_anchors: float = 0.4
    judge_cosine: float = 0.75
    escalate: Escalate = "auto"
    min_fact_agreement: float = 0.5
    min_facts: int = 4
    escalate_low: float = 0.25
    escalate_high: float = 0.9
    escalate_score: float = 0.2
    paraphrase_cosine: float = 0.75
    same_event_anchors: float = 0.2
    same_event_cosine: float = 0.6
    duplicate_jaccard: float = 0.9
    batch_docs: int = 64
    workers: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.limit_candidates, int) or self.limit_candidates < 1:
            raise ConfigError(f"scan.limit_candidates must be a positive integer, got {self.limit_candidates!r}")
        if not isinstance(self.batch_docs, int) or self.batch_docs < 1:
            raise ConfigError(f"scan.batch_docs must be a positive integer, got {self.batch_docs!r}")
        if self.escalate not in ("auto", "never", "always"):
            raise ConfigError(f"scan.escalate must be auto, never or always, got {self.escalate!r}")
        if not 0.0 < self.duplicate_jaccard:
            raise ConfigError(f"scan.duplicate_jaccard must be positive, got {self.duplicate_jaccard!r}")
        if not 0.0 <= self.escalate_low <= self.escalate_high <= 1.0:
            raise ConfigError("scan.escalate_low and escalate_high must satisfy 0 <= low <= high <= 1")

    def recorded(self) -> dict[str, Any]:
        """The settings that change judgements (recorded in the store with the results)."""
        values = asdict(self)
        for name in ("batch_docs", "workers"):
            values.pop(name)
        return values


@dataclass(frozen=True)
class Edge:
    """One derivation found by :func:`scan`: ``derivative`` was rewritten from ``source``.

    Attributes:
        derivative, source: document ids in the store.
        probability: the verdict's probability that the pair is derived.
        type: reuse type (``copy``, ``light edit``, ``paraphrase``, ``condensed rewrite``, ...).
        coverage_derivative, coverage_source: share of each side's body in aligned passages.
        direction_confidence: 0.5 = no evidence of direction, 1.0 = certain.
        direction_evidence: the reasons for the direction, strongest first.
        cluster: id of the cluster holding both documents.
        stage: ``lexical`` or ``semantic``: which compare decided the pair (``retrieval`` marks
            pairs the gate settled without a compare; they are never edges).
    """

    derivative: str
    source: str
    probability: float
    type: str
    coverage_derivative: float
    coverage_source: float
    direction_confidence: float
    direction_evidence: tuple[str, ...]
    cluster: str = ""
    stage: str = "lexical"

    def row(self) -> dict[str, Any]:
        """The edge as one export row (:data:`EDGE_COLUMNS`; evidence joined by ``"; "``)."""
        return {
            "derivative": self.derivative,
            "source": self.source,
            "probability": self.probability,
            "type": self.type,
            "coverage_derivative": self.coverage_derivative,
            "coverage_source": self.coverage_source,
            "direction_confidence": self.direction_confidence,
            "direction_evidence": "; ".join(self.direction_evidence),
            "cluster": self.cluster,
        }


@dataclass(frozen=True)
class Cluster:
    """Articles sharing a story: linked by derived edges or same-event judgements (:func:`story_groups`).

    Attributes:
        id: ``c1``, ``c2``, ... (largest cluster first).
        documents: member ids, in the order they were added to the store.
        earliest_source: the member the story started from.
        earliest_by: how it was chosen: ``published`` (earliest date), ``derivation root`` or
            ``first added`` (no dates and no edges: a same-event cluster).
        edges: derived edges inside the cluster.
        same_event_links: same-event (not derived) links inside the cluster.
    """

    id: str
    documents: tuple[str, ...]
    earliest_source: str
    earliest_by: str
    edges: int
    same_event_links: int


@dataclass
class ScanStats:
    """What one :func:`scan` call did.

    Attributes:
        documents: documents in the store.
        documents_scanned: documents whose candidates this call retrieved and judged.
        documents_skipped: documents already scanned by an earlier (interrupted) call.
        pairs_judged: pairs this call judged (compared, or settled by the retrieval gate).
        pairs_compared: of those, pairs that went through a compare.
        pairs_escalated: of those, pairs re-judged with the semantic compare.
        pairs_skipped: candidate pairs not compared again because an earlier call or an earlier
            document of this call had judged them.
        pairs_total: judged pairs in the store after this call.
        edges, clusters, same_event_links: in the final result.
        batches: transactions committed.
        retrieve_s, judge_s, elapsed_s: wall time spent retrieving, judging, in total.
    """

    documents: int = 0
    documents_scanned: int = 0
    documents_skipped: int = 0
    pairs_judged: int = 0
    pairs_compared: int = 0
    pairs_escalated: int = 0
    pairs_skipped: int = 0
    pairs_total: int = 0
    edges: int = 0
    clusters: int = 0
    same_event_links: int = 0
    batches: int = 0
    retrieve_s: float = 0.0
    judge_s: float = 0.0
    elapsed_s: float = 0.0

    def summary(self) -> str:
        """One line for the CLI."""
        return (
            f"Scanned {self.documents_scanned:,} of {self.documents:,} documents "
            f"({self.documents_skipped:,} already scanned): {self.pairs_judged:,} pairs judged "
            f"({self.pairs_compared:,} compared, {self.pairs_escalated:,} of them semantically; "
            f"{self.pairs_skipped:,} already judged), "
            f"{self.edges:,} edges, {self.clusters:,} clusters in {self.elapsed_s:.1f} s."
        )


@dataclass(frozen=True)
class ScanProgress:
    """Passed to the ``progress`` callback after each committed batch."""

    documents_done: int
    documents_total: int
    pairs_judged: int
    edges_found: int
    elapsed_s: float


@dataclass
class ScanResult:
    """Edges and clusters of a store, with what the scan did.

    Attributes:
        edges: derived pairs, sorted by cluster then derivative.
        clusters: clusters of two or more documents, largest first.
        documents: ``{id: {"title", "published", "name"}}`` for every document in a cluster.
        stats: counts and timings of the call.
        store: the store directory (the compare pages are recomputed from it).
        settings: the compare settings used by the semantic tier.
    """

    edges: list[Edge]
    clusters: list[Cluster]
    documents: dict[str, dict[str, str | None]]
    stats: ScanStats
    store: str = ""
    settings: Settings | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain data: ``schema_version``, ``store``, ``stats``, ``clusters`` (with their edges)."""
        by_cluster: dict[str, list[Edge]] = defaultdict(list)
        for edge in self.edges:
            by_cluster[edge.cluster].append(edge)
        return {
            "schema_version": SCHEMA_VERSION,
            "store": self.store,
            "stats": asdict(self.stats),
            "clusters": [
                {
                    **asdict(cluster),
                    "documents": [{"id": d, **self.documents.get(d, {})} for d in cluster.documents],
                    "edges": [{**e.row(), "stage": e.stage, "compare": compare_page_name(e)}
                              for e in by_cluster[cluster.id]],
                }
                for cluster in self.clusters
            ],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def write(self, out_dir: str | os.PathLike[str], compares: bool = True,
              pairs: Iterable[Sequence[Any]] | None = None) -> dict[str, Path]:
        """Write the exports into ``out_dir`` (created if needed).

        Files: ``edges.jsonl``, ``edges.csv``, ``edges.parquet`` (the same rows and
        :data:`EDGE_COLUMNS` in all three), ``pairs.parquet`` (every judged pair,
        :data:`PAIR_COLUMNS`), ``clusters.json``, ``graph.html`` (a self-contained overview) and,
        with ``compares``, ``compares/<derivative>__<source>.html`` for every edge (the
        side-by-side report of :func:`retold.report.html.to_html`, recomputed from the store).

        Args:
            out_dir: the folder to write into.
            compares: write the compare pages.
            pairs: the rows of ``pairs.parquet``: the first 14 columns of :func:`judge_pairs`' rows
                (``doc_a`` … ``retrieval_score``) with document ids in place of keys, sorted by
                key. ``None``: read them from the store (:attr:`store`); the Spark engine streams
                its own.

        Returns:
            ``{name: path}`` of the files written (compare pages under ``"compares"``).

        Raises:
            StoreError: ``pairs`` is ``None`` and :attr:`store` is not a store.
        """
        import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
        import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        rows = [e.row() for e in self.edges]
        written: dict[str, Path] = {}
        _write_text(out / "edges.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(EDGE_COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        _write_text(out / "edges.csv", buffer.getvalue())
        schema = pa.schema([
            ("derivative", pa.string()), ("source", pa.string()), ("probability", pa.float64()),
            ("type", pa.string()), ("coverage_derivative", pa.float64()), ("coverage_source", pa.float64()),
            ("direction_confidence", pa.float64()), ("direction_evidence", pa.string()), ("cluster", pa.string()),
        ])
        table = pa.Table.from_pylist(rows, schema=schema)
        tmp = out / ".edges.parquet.tmp"
        pq.write_table(table, tmp)
        os.replace(tmp, out / "edges.parquet")
        if pairs is None:
            self._write_stored_pairs(out / "pairs.parquet")
        else:
            _write_pairs(out / "pairs.parquet", pairs)
        _write_text(out / "clusters.json", self.to_json() + "\n")
        written.update({name: out / name for name in ("edges.jsonl", "edges.csv", "edges.parquet", "pairs.parquet",
                                                      "clusters.json", "graph.html")})
        if compares:
            (out / "compares").mkdir(exist_ok=True)
            self._write_compares(out / "compares")
            written["compares"] = out / "compares"
        _write_text(out / "graph.html", self.to_html(compares=compares))
        return written

    def _write_stored_pairs(self, path: Path) -> None:
        from .index import Index

        with Index.open(self.store) as index:
            if index.schema_version < 2:  # never scanned: no results table
                _write_pairs(path, [])
                return
            rows = index.db.execute(
                "SELECT da.doc_id, db.doc_id, r.derived, "
                "CASE WHEN r.derivative = r.doc_a THEN da.doc_id ELSE db.doc_id END, "
                "CASE WHEN r.source = r.doc_a THEN da.doc_id ELSE db.doc_id END, "
                "r.probability, r.type, r.coverage_derivative, r.coverage_source, r.direction_confidence, "
                "r.direction_evidence, r.same_event, r.stage, r.retrieval_score FROM results r "
                "JOIN documents da ON da.key = r.doc_a JOIN documents db ON db.key = r.doc_b "
                "ORDER BY r.doc_a, r.doc_b"
            )
            _write_pairs(path, rows)

    def _write_compares(self, folder: Path) -> None:
        from .compare import Settings, compare_documents
        from .index import Index
        from .report.html import to_html

        semantic = self.settings or Settings()
        lexical = semantic.with_encoder("none")
        with Index.open(self.store) as index:
            for edge in self.edges:
                derivative, source = index.get(edge.derivative), index.get(edge.source)
                settings = semantic if edge.stage == "semantic" else lexical
                result = compare_documents(derivative, source, settings)
                _write_text(folder / compare_page_name(edge), to_html(result))

    def to_html(self, compares: bool = True) -> str:
        """The ``graph.html`` overview: clusters with their articles and edges (no external files)."""
        return _graph_html(self, compares)


# --- the scan ---------------------------------------------------------------------------------------


class _Worker:
    """Per-process state: a read-only view of the store and the two compare settings."""

    index: Any = None
    settings: Any = None
    scan_settings: ScanSettings | None = None


def _pool_worker_open(parent_pid: int, store: str, settings: Settings, scan_settings: ScanSettings) -> None:
    from .processes import pool_worker_init

    pool_worker_init(parent_pid)
    _worker_open(store, settings, scan_settings)


def _worker_open(store: str, settings: Settings, scan_settings: ScanSettings) -> None:
    from .index import Index

    if _Worker.index is not None:
        _Worker.index.close()
    _Worker.index = Index.open(store)
    try:  # one process per core already: faiss's own threads would only contend
        import faiss

        faiss.omp_set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass
    _Worker.settings = settings
    _Worker.scan_settings = scan_settings


_Found = tuple[int, float, dict[str, float]]


def _candidates_task(keys: Sequence[int]) -> list[tuple[int, list[_Found]]]:
    from .retrieve import candidates, score_stored_pair

    index, scan_settings = _Worker.index, _Worker.scan_settings
    assert index is not None and scan_settings is not None
    documents = index.documents_by_key(list(keys))
    features = index.stored_features(list(keys))
    stars = scan_settings.duplicate_jaccard <= 1.0
    copy_of = {key: _earliest_copy(index, key, features[key], scan_settings.duplicate_jaccard)
               for key in keys} if stars else {}
    # the nearest lead vectors of the documents that need a search, in one faiss call
    with_vector = [key for key in keys if copy_of.get(key) is None and features[key].embedding is not None]
    searched = index.query_vectors_many(np.stack([features[k].embedding for k in with_vector]),
                                        index.settings.vector_pool + 1) if with_vector else []
    neighbours = dict(zip(with_vector, searched))
    out = []
    for key in keys:
        if copy_of.get(key) is not None:  # a copy: judged against its earliest copy only, no search needed
            out.append((key, [(copy_of[key], *score_stored_pair(index, features[key], copy_of[key]))]))
            continue
        found = candidates(index, documents[key], limit=scan_settings.limit_candidates, features=features[key],
                           neighbours=neighbours.get(key), windows=False)
        kept = [(c.key, c.score, c.signals) for c in found if c.score >= scan_settings.min_candidate_score]
        if stars:
            signatures = index.signatures([k for k, _, _ in kept])
            kept = collapse_near_duplicates(key, kept, signatures, scan_settings.duplicate_jaccard)
        out.append((key, kept))
    return out


def _earliest_copy(index: Index, key: int, features: Any, threshold: float) -> int | None:
    """The first-added document sharing an LSH bucket with ``key`` that is its near-duplicate
    (:func:`_near_duplicates`), or ``None``."""
    if not features.shingle_count:
        return None
    earlier = sorted(k for k in index.query_lsh(features.minhash) if k < key)
    signatures = index.signatures(earlier) if earlier else {}
    mine = (features.minhash, features.shingle_count)
    return next((other for other in earlier if _near_duplicates(mine, signatures.get(other), threshold)), None)


def _near_duplicates(a: tuple[Any, int] | None, b: tuple[Any, int] | None, threshold: float) -> bool:
    """Whether two ``(MinHash signature, shingle count)`` are near-duplicates: both have shingles
    and their estimated Jaccard, rounded as the ``jaccard`` retrieval signal, reaches ``threshold``."""
    if a is None or b is None or not a[1] or not b[1]:
        return False
    return round(float(np.mean(a[0] == b[0])), 4) >= threshold


def collapse_near_duplicates(key: int, found: Sequence[_Found], signatures: Mapping[int, tuple[Any, int]],
                             threshold: float) -> list[_Found]:
    """The candidate pairs of document ``key`` worth judging when some are near-duplicates (pure).

    A crawl holds many near-identical copies of one article (syndication, archive copies, re-issued
    wire stories). Judging every pair among ``n`` copies, and every copy against every relative of
    the story, costs ``O(n^2)`` compares that add nothing: the copies are judged in a *star* instead.

    * A document with an earlier-added near-duplicate among its candidates (estimated Jaccard
      ``signals["jaccard"]`` at least ``threshold``) is paired only with the earliest one: it is a
      copy, and the story's other relations are judged from that earlier document. (The local
      scan looks for that earlier copy among the document's LSH bucket partners before searching
      for candidates at all, and skips the search when it finds one.)
    * Otherwise it keeps its candidates, except those with an earlier-added near-duplicate among
      the same candidates (the pair with that earlier copy stands for both). Its own later
      near-duplicates stay (they pair with their earliest copy anyway).

    Keys follow the order in which documents were added (store keys, Spark ordinals), so both
    engines pick the same pairs. ``signatures`` maps a candidate key to its ``(MinHash signature,
    shingle count)``; candidates without shingles are never near-duplicates.

    Example:
        >>> import numpy as np
        >>> sig = {1: (np.arange(4), 9), 2: (np.arange(4), 9), 3: (np.zeros(4), 9)}
        >>> found = [(2, 0.9, {"jaccard": 0.2}), (1, 0.8, {"jaccard": 0.2}), (3, 0.5, {"jaccard": 0.0})]
        >>> [k for k, _, _ in collapse_near_duplicates(5, found, sig, 0.9)]  # 2 is a copy of 1
        [1, 3]
        >>> [k for k, _, _ in collapse_near_duplicates(4, [(1, 0.9, {"jaccard": 0.95})] + found, sig, 0.9)]
        [1]
    """
    copies_before = [item for item in found if item[0] < key and item[2].get("jaccard", 0.0) >= threshold]
    if copies_before:
        return [min(copies_before, key=lambda item: item[0])]
    by_key = sorted(found, key=lambda item: item[0])
    kept: list[_Found] = []
    for position, item in enumerate(by_key):
        mine = signatures.get(item[0])
        if not any(_near_duplicates(mine, signatures.get(other[0]), threshold) for other in by_key[:position]):
            kept.append(item)
    order = {item[0]: rank for rank, item in enumerate(found)}
    return sorted(kept, key=lambda item: order[item[0]])


_Pair = tuple[int, int, float, dict[str, float]]


def _judge_task(pairs: Sequence[_Pair]) -> list[tuple[Any, ...]]:
    index, settings, scan_settings = _Worker.index, _Worker.settings, _Worker.scan_settings
    assert index is not None and scan_settings is not None
    documents = index.documents_by_key(sorted({k for p in pairs for k in p[:2]}))  # gated pairs included: cheap
    return judge_pairs(pairs, documents, settings, scan_settings)


def judge_pairs(pairs: Sequence[_Pair], documents: Mapping[int, Document], settings: Settings,
                scan_settings: ScanSettings) -> list[tuple[Any, ...]]:
    """Judge candidate pairs with the two tiers (pure: both engines call it).

    Args:
        pairs: ``(doc_a, doc_b, retrieval score, signals)`` with ``doc_a < doc_b`` (document
            keys: the store's key, or the Spark engine's ordinal; both follow the order in which
            documents were added).
        documents: every document of ``pairs`` by key.
        settings: compare settings of the semantic tier; the lexical tier drops the encoder.
        scan_settings: the retrieval gate, the escalation rule and the template filter.

    Returns:
        One result row per pair, in order: ``(doc_a, doc_b, derived, derivative, source,
        probability, type, coverage_derivative, coverage_source, direction_confidence,
        direction_evidence (JSON list), same_event, stage, retrieval_score, judged_at)``, the
        columns of the store's ``results`` table.
    """
    from .compare import compare_documents

    lexical = settings.with_encoder("none")
    semantic_available = settings.align.encoder != "none"
    rows = []
    now = time.time()
    for doc_a, doc_b, score, signals in pairs:
        if not (signals.get("shingles", 0.0) >= scan_settings.judge_shingles
                or signals.get("anchors", 0.0) >= scan_settings.judge_anchors
                or signals.get("vector", 0.0) >= scan_settings.judge_cosine):
            same_event = (signals.get("anchors", 0.0) >= scan_settings.same_event_anchors
                          and signals.get("vector", 0.0) >= scan_settings.same_event_cosine)
            rows.append((doc_a, doc_b, 0, doc_a, doc_b, 0.0, "same event" if same_event else "unrelated",
                         0.0, 0.0, 0.5, "[]", int(same_event), "retrieval", round(score, 4), now))
            continue
        # The later-added document is asked about first: when the texts give no evidence of
        # direction (and no dates), the judge keeps the first text as the derivative, so an
        # archive added in publication order gets the earlier article as the source.
        a, b = documents[doc_b], documents[doc_a]
        stage = "lexical"
        if scan_settings.escalate == "always" and semantic_available:
            result, stage = compare_documents(a, b, settings), "semantic"
        else:
            result = compare_documents(a, b, lexical)
            escalate = scan_settings.escalate == "auto" and semantic_available and needs_semantic(
                result.verdict.probability, result.verdict.derived, score, signals.get("vector", 0.0),
                scan_settings.escalate_low, scan_settings.escalate_high, scan_settings.escalate_score,
                scan_settings.paraphrase_cosine,
            )
            if escalate:
                result, stage = compare_documents(a, b, settings), "semantic"
        template = result.verdict.derived and _shared_template(result, scan_settings)
        rows.append(_row(doc_a, doc_b, doc_b, doc_a, result, score, signals, stage, scan_settings, now, template))
    return rows


def needs_semantic(probability: float, derived: bool, retrieval_score: float, lead_cosine: float,
                   low: float, high: float, min_score: float, min_cosine: float) -> bool:
    """Whether a lexical verdict should be redone with the sentence encoder (scan and trace).

    Yes when its probability is uncertain (strictly between ``low`` and ``high``), or when it says
    "not derived" although retrieval suggests a paraphrase (a paraphrase shares few words): a
    retrieval score of at least ``min_score`` or a lead cosine of at least ``min_cosine``.
    """
    if low < probability < high:
        return True
    return not derived and (retrieval_score >= min_score or lead_cosine >= min_cosine)


def _shared_template(result: CompareResult, scan_settings: ScanSettings) -> bool:
    """Whether a derived verdict aligns boilerplate rather than reused reporting: facts disagree."""
    kept = sum(1 for f in result.facts if f.status == "kept")
    changed = sum(1 for f in result.facts if f.status == "changed")
    if kept + changed < scan_settings.min_facts:
        return False
    return kept / (kept + changed) < scan_settings.min_fact_agreement


def _row(doc_a: int, doc_b: int, first: int, second: int, result: CompareResult, score: float,
         signals: dict[str, float], stage: str, scan_settings: ScanSettings, now: float,
         template: bool = False) -> tuple[Any, ...]:
    verdict = result.verdict
    derived = verdict.derived and not template
    reuse_type = "shared template" if template else verdict.type
    first_is_derivative = verdict.direction.derivative == "a"
    derivative, source = (first, second) if first_is_derivative else (second, first)
    same_event = not derived and not template and (
        verdict.type == "same event"
        or (stage == "lexical"
            and signals.get("anchors", 0.0) >= scan_settings.same_event_anchors
            and signals.get("vector", 0.0) >= scan_settings.same_event_cosine)
    )
    return (
        doc_a, doc_b, int(derived), derivative, source, round(verdict.probability, 4), reuse_type,
        round(result.coverage.derivative, 4), round(result.coverage.source, 4),
        round(verdict.direction.confidence, 4), json.dumps(list(verdict.direction.evidence), ensure_ascii=False),
        int(same_event), stage, round(score, 4), now,
    )


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _check_scan_settings(index: Index, scan_settings: ScanSettings, encoder: str, restart: bool) -> None:
    db = index.db
    wanted = {**scan_settings.recorded(), "encoder": encoder}
    row = db.execute("SELECT value FROM settings WHERE key = 'scan'").fetchone()
    has_results = db.execute("SELECT 1 FROM results LIMIT 1").fetchone() is not None
    if restart or row is None or not has_results or json.loads(row[0]) != wanted:
        if row is not None and has_results and not restart and json.loads(row[0]) != wanted:
            raise StoreError(
                f"{index.path}: the store holds scan results made with other settings "
                f"({row[0]}); re-run with the same settings to resume, or restart the scan (--restart)"
            )
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM results")
            db.execute("DELETE FROM scanned")
            db.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('scan', ?)", (json.dumps(wanted),))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


def scan(
    index: Index,
    settings: Settings | None = None,
    progress: Callable[[ScanProgress], None] | None = None,
    scan_settings: ScanSettings | None = None,
    restart: bool = False,
) -> ScanResult:
    """Judge every candidate pair of the store once and return the derivation edges and clusters.

    Resumes an interrupted scan of the same store: documents already scanned and pairs already
    judged are skipped; the judgements are read back from the store.

    Args:
        index: a store opened with ``writable=True`` (the judgements are stored in it).
        settings: compare settings of the semantic tier (defaults to ``Settings()``, the USE
            encoder); the lexical tier uses the same settings without an encoder.
        progress: called with a :class:`ScanProgress` after each committed batch.
        scan_settings: retrieval and tier settings (defaults to ``ScanSettings()``).
        restart: forget earlier judgements and scan from scratch.

    Returns:
        A :class:`ScanResult` over every judgement in the store.

    Raises:
        StoreError: the store is read-only, or holds judgements made with other scan settings
            (and not ``restart``).

    Example:
        >>> with Index.open("store/", writable=True) as index:      # doctest: +SKIP
        ...     print(scan(index).stats.summary())
    """
    from .compare import Settings

    if not index.writable:
        raise StoreError(f"{index.path}: scan stores its judgements; open the store with writable=True")
    settings = settings or Settings()
    scan_settings = scan_settings or ScanSettings()
    started = time.perf_counter()
    _check_scan_settings(index, scan_settings, settings.align.encoder, restart)
    db = index.db
    stats = ScanStats(documents=index.count())
    scanned = {int(r[0]) for r in db.execute("SELECT doc FROM scanned")}
    judged = {(int(a) << 32) | int(b) for a, b in db.execute("SELECT doc_a, doc_b FROM results")}
    todo = [int(r[0]) for r in db.execute("SELECT key FROM documents ORDER BY key") if int(r[0]) not in scanned]
    stats.documents_skipped = stats.documents - len(todo)
    edges_found = int(db.execute("SELECT COUNT(*) FROM results WHERE derived = 1").fetchone()[0])
    batches = list(_chunks(todo, scan_settings.batch_docs))
    n_workers = min(os.cpu_count() or 1, 8) if scan_settings.workers is None else max(1, scan_settings.workers)
    pool = None
    if n_workers > 1 and len(batches) >= 2:
        from concurrent.futures import ProcessPoolExecutor

        # spawn, not fork: a parent that already ran the encoder has TensorFlow threads whose locks a
        # forked child inherits held (measured: forked workers hung on a futex after a trace).
        context: Any = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(max_workers=n_workers, mp_context=context, initializer=_pool_worker_open,
                                   initargs=(os.getpid(), str(index.path), settings, scan_settings))
    else:
        _worker_open(str(index.path), settings, scan_settings)
    try:
        for batch in batches:
            t0 = time.perf_counter()
            if pool is not None:
                size = max(1, -(-len(batch) // (2 * n_workers)))
                found = [item for part in pool.map(_candidates_task, list(_chunks(batch, size))) for item in part]
            else:
                found = _candidates_task(batch)
            t1 = time.perf_counter()
            new: dict[int, _Pair] = {}
            for key, cands in found:
                for other, score, signals in cands:
                    a, b = (key, other) if key < other else (other, key)
                    code = (a << 32) | b
                    if code in judged or code in new:
                        stats.pairs_skipped += 1
                        continue
                    new[code] = (a, b, score, signals)
            pairs = sorted(new.values(), key=lambda p: (p[0], p[1]))
            if pool is not None and pairs:
                size = max(1, min(32, -(-len(pairs) // (2 * n_workers))))
                rows = [row for part in pool.map(_judge_task, list(_chunks(pairs, size))) for row in part]
            else:
                rows = _judge_task(pairs)
            t2 = time.perf_counter()
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    "INSERT OR IGNORE INTO results (doc_a, doc_b, derived, derivative, source, probability, type, "
                    "coverage_derivative, coverage_source, direction_confidence, direction_evidence, same_event, "
                    "stage, retrieval_score, judged_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                db.executemany("INSERT OR IGNORE INTO scanned (doc) VALUES (?)", [(k,) for k in batch])
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            judged.update(new)
            stats.batches += 1
            stats.documents_scanned += len(batch)
            stats.pairs_judged += len(rows)
            stats.pairs_escalated += sum(1 for r in rows if r[12] == "semantic")
            stats.pairs_compared += sum(1 for r in rows if r[12] != "retrieval")
            stats.retrieve_s += t1 - t0
            stats.judge_s += t2 - t1
            edges_found += sum(1 for r in rows if r[2])
            if progress is not None:
                progress(ScanProgress(stats.documents_skipped + stats.documents_scanned, stats.documents,
                                      stats.pairs_judged, edges_found, time.perf_counter() - started))
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        elif _Worker.index is not None:
            _Worker.index.close()
            _Worker.index = None
    result = load_scan(index, settings)
    result.stats = replace(result.stats, **{k: v for k, v in asdict(stats).items()
                                            if k not in ("edges", "clusters", "same_event_links", "pairs_total")})
    result.stats.elapsed_s = time.perf_counter() - started
    return result


def load_scan(index: Index, settings: Settings | None = None) -> ScanResult:
    """The edges and clusters from the judgements stored in ``index`` (no comparing).

    A store never scanned (or of schema version 1) gives an empty result.
    """
    if index.schema_version < 2:
        return ScanResult([], [], {}, ScanStats(documents=index.count()), str(index.path), settings)
    db = index.db
    rows = db.execute(
        "SELECT doc_a, doc_b, derived, derivative, source, probability, type, coverage_derivative, coverage_source, "
        "direction_confidence, direction_evidence, same_event, stage FROM results "
        "WHERE derived = 1 OR same_event = 1 ORDER BY doc_a, doc_b"
    ).fetchall()
    keys = sorted({int(k) for r in rows for k in r[:2]})
    meta: dict[int, tuple[str, str | None, str | None, str | None]] = {}
    for part in _chunks(keys, 900):
        marks = ",".join("?" * len(part))
        for key, doc_id, title, published, name in db.execute(
            f"SELECT key, doc_id, title, published, name FROM documents WHERE key IN ({marks})", list(part)
        ):
            meta[int(key)] = (doc_id, title, published, name)
    pairs_total = int(db.execute("SELECT COUNT(*) FROM results").fetchone()[0])
    return build_result(rows, meta, index.count(), pairs_total, str(index.path), settings)


def build_result(
    rows: Sequence[Sequence[Any]],
    meta: Mapping[int, tuple[str, str | None, str | None, str | None]],
    documents: int,
    pairs_total: int,
    store: str = "",
    settings: Settings | None = None,
    linkage: float = CLUSTER_LINKAGE,
) -> ScanResult:
    """Edges and clusters from the derived and same-event judgements (pure: both engines call it).

    Args:
        rows: the first 13 columns of :func:`judge_pairs`' rows (``doc_a`` … ``stage``) of every
            pair judged derived or same event, sorted by ``(doc_a, doc_b)``.
        meta: ``{key: (id, title, published, name)}`` of every document in ``rows``.
        documents: documents in the corpus; pairs_total: pairs judged (for the stats).
        store: recorded as :attr:`ScanResult.store` (the compare pages are recomputed from it).
        settings: compare settings of the semantic tier.
        linkage: see :func:`story_groups`.

    Returns:
        The edges (triangles reduced), the clusters (:func:`story_groups`, largest first) and
        their documents.
    """
    groups = sorted((g for g in story_groups(rows, linkage) if len(g) > 1), key=lambda m: (-len(m), m[0]))
    cluster_of = {key: f"c{number}" for number, group in enumerate(groups, start=1) for key in group}
    derived_rows = _reduce([r for r in rows if r[2]])
    edges_of: dict[str, list[Sequence[Any]]] = defaultdict(list)
    for r in derived_rows:
        edges_of[cluster_of[r[0]]].append(r)
    links_of = Counter(cluster_of[r[0]] for r in rows
                       if not r[2] and r[0] in cluster_of and cluster_of[r[0]] == cluster_of.get(r[1]))
    clusters: list[Cluster] = []
    for number, group in enumerate(groups, start=1):
        cid = f"c{number}"
        earliest, by = _earliest(group, edges_of[cid], meta)
        clusters.append(Cluster(
            id=cid,
            documents=tuple(meta[k][0] for k in group),
            earliest_source=meta[earliest][0],
            earliest_by=by,
            edges=len(edges_of[cid]),
            same_event_links=links_of[cid],
        ))
    edges = [
        Edge(
            derivative=meta[r[3]][0], source=meta[r[4]][0], probability=r[5], type=r[6],
            coverage_derivative=r[7], coverage_source=r[8], direction_confidence=r[9],
            direction_evidence=tuple(json.loads(r[10])), cluster=cluster_of[r[0]], stage=r[12],
        )
        for r in derived_rows
    ]
    edges.sort(key=lambda e: (int(e.cluster[1:]), e.derivative, e.source))
    members_meta = {m[0]: {"title": m[1], "published": m[2], "name": m[3]} for m in meta.values()}
    stats = ScanStats(
        documents=documents,
        pairs_total=pairs_total,
        edges=len(edges),
        clusters=len(clusters),
        same_event_links=sum(1 for r in rows if not r[2]),
    )
    return ScanResult(edges, clusters, members_meta, stats, store, settings)


def story_groups(rows: Sequence[Sequence[Any]], linkage: float = CLUSTER_LINKAGE) -> list[list[int]]:
    """Group the documents of derived and same-event pairs into stories.

    Derived pairs join their documents unconditionally (a rewrite of a rewrite is one story), into
    derivation groups. Same-event pairs join derivation groups by average linkage: a same-event
    link to any member links to the whole group (its members share text), and the two clusters
    with the largest share of linked pairs among their cross pairs of derivation groups are
    merged, again and again, while that share is at least ``linkage``. Pairs never judged count
    as not linked. Single-link grouping would chain a season of related stories (award ceremonies
    that share film titles) into one cluster through pairs that each share a few names.

    Args:
        rows: ``(doc_a, doc_b, derived, ...)`` per pair judged derived or same event.
        linkage: least share of linked cross pairs for a merge; ``0`` joins every linked group
            (connected components).

    Returns:
        The groups of document keys, each sorted; every key of ``rows`` is in one group (a
        document whose links joined nothing is a group of one).

    Example (2 is derived from 1; 3, 4 and 5 each report the same event as their neighbour in
    the chain; a single link would make one cluster of the chain):
        >>> story_groups([(1, 2, 1), (3, 1, 0), (4, 3, 0), (5, 4, 0)])
        [[1, 2, 3], [4, 5]]
    """
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for row in rows:
        ra, rb = find(row[0]), find(row[1])
        if row[2] and ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    members: dict[int, list[int]] = defaultdict(list)
    for key in list(parent):
        members[find(key)].append(key)
    groups = dict.fromkeys(members, 1)  # derivation groups per cluster
    linked = {(min(ga, gb), max(ga, gb)) for ga, gb in ((find(r[0]), find(r[1])) for r in rows if not r[2]) if ga != gb}
    links: dict[int, dict[int, int]] = defaultdict(dict)
    for ga, gb in linked:
        links[ga][gb] = links[gb][ga] = 1

    def share(a: int, b: int) -> float:
        return links[a][b] / (groups[a] * groups[b])

    heap = [(-share(a, b), a, b) for a in links for b in links[a] if a < b]
    heapq.heapify(heap)
    while heap:
        negative, a, b = heapq.heappop(heap)
        if a not in members or b not in members or b not in links[a] or -negative != share(a, b):
            continue  # a group merged since, or a share that changed: a newer entry stands for it
        if -negative < linkage:
            break
        members[a].extend(members.pop(b))
        groups[a] += groups.pop(b)
        for c, count in links.pop(b).items():
            del links[c][b]
            if c != a:
                links[a][c] = links[c][a] = links[a].get(c, 0) + count
        for c in links[a]:
            heapq.heappush(heap, (-share(a, c), min(a, c), max(a, c)))
    return [sorted(group) for group in members.values()]


def _reduce(rows: list[Sequence[Any]]) -> list[Sequence[Any]]:
    """Drop the indirect edge of each derivation triangle.

    When ``D`` is derived from both ``S1`` and ``S2`` and ``S1`` is itself derived from ``S2``
    (two rewrites of one wire story, or a chain wire → rewrite → re-rewrite), ``D`` shares text
    with both for one reason. Keep the edge that explains more of ``D`` (higher
    ``coverage_derivative``; on a tie, the edge to ``S2``, the older text) and drop the other.
    The dropped pair stays judged in the store and its documents stay in the same cluster.
    """
    by_pair = {(r[3], r[4]): r for r in rows}
    sources: dict[int, set[int]] = defaultdict(set)
    for derivative, source in by_pair:
        sources[derivative].add(source)
    dropped: set[tuple[int, int]] = set()
    for derivative in sorted(sources):
        for s1 in sorted(sources[derivative]):
            for s2 in sorted(sources[derivative]):
                if s1 == s2 or (s1, s2) not in by_pair or (s1, s2) in dropped:
                    continue
                if (derivative, s1) in dropped or (derivative, s2) in dropped:
                    continue
                via, direct = by_pair[(derivative, s1)], by_pair[(derivative, s2)]
                dropped.add((derivative, s1) if direct[7] >= via[7] else (derivative, s2))
    return [r for r in rows if (r[3], r[4]) not in dropped]


_DIRECTION_CLEAR = JudgeSettings().direction_min_confidence


def _earliest(group: list[int], edges: list[Sequence[Any]],
              meta: Mapping[int, tuple[str, str | None, str | None, str | None]]) -> tuple[int, str]:
    dated = [(meta[k][2], k) for k in group if meta[k][2]]
    if dated:
        return min(dated)[1], "published"
    if edges:
        # an edge whose direction the texts left open says nothing about which member came first
        directed = [r for r in edges if r[9] >= _DIRECTION_CLEAR] or list(edges)
        derivatives = {r[3] for r in directed}
        out_degree: dict[int, int] = defaultdict(int)
        for r in directed:
            out_degree[r[4]] += 1
        roots = [k for k in group if k not in derivatives and out_degree[k]] or list(out_degree)
        return min(roots, key=lambda k: (-out_degree[k], k)), "derivation root"
    return group[0], "first added"


# --- exports ----------------------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def compare_page_name(edge: Edge) -> str:
    """File name of an edge's compare page: ``<derivative>__<source>.html`` with unsafe characters
    (``/``, ``#``, spaces, ...) replaced by ``_``."""
    return f"{_UNSAFE.sub('_', edge.derivative)}__{_UNSAFE.sub('_', edge.source)}.html"


def _pair_schema() -> Any:
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

    types = {"derived": pa.bool_(), "same_event": pa.bool_(), "probability": pa.float64(),
             "coverage_derivative": pa.float64(), "coverage_source": pa.float64(),
             "direction_confidence": pa.float64(), "retrieval_score": pa.float64()}
    return pa.schema([(name, types.get(name, pa.string())) for name in PAIR_COLUMNS])


def _pair_record(row: Sequence[Any]) -> dict[str, Any]:
    """One ``pairs.parquet`` row (:data:`PAIR_COLUMNS`) from a result row with ids in place of keys."""
    (a, b, derived, derivative, source, probability, reuse_type, coverage_derivative, coverage_source,
     direction_confidence, direction_evidence, same_event, stage, retrieval_score) = row[:14]
    compared = stage != "retrieval"
    return {
        "a": a, "b": b, "derived": bool(derived),
        "derivative": derivative if compared else None, "source": source if compared else None,
        "probability": probability, "type": reuse_type, "coverage_derivative": coverage_derivative,
        "coverage_source": coverage_source, "direction_confidence": direction_confidence,
        "direction_evidence": "; ".join(json.loads(direction_evidence)), "same_event": bool(same_event),
        "stage": stage, "retrieval_score": retrieval_score,
    }


def _write_pairs(path: Path, rows: Iterable[Sequence[Any]], batch_rows: int = 65_536) -> int:
    """Stream ``rows`` into ``path`` as Parquet (:data:`PAIR_COLUMNS`), atomically; returns the row count."""
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
    import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]

    schema = _pair_schema()
    tmp = path.with_name(f".{path.name}.tmp")
    count = 0
    try:
        with pq.ParquetWriter(tmp, schema) as writer:
            batch: list[dict[str, Any]] = []
            for row in rows:
                batch.append(_pair_record(row))
                if len(batch) >= batch_rows:
                    writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                    count += len(batch)
                    batch = []
            if batch or not count:  # an empty export still gets one (empty) row group
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                count += len(batch)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return count


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _esc(text: object) -> str:
    return html.escape("" if text is None else str(text), quote=True)


_CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:1.5rem auto;max-width:90rem;
padding:0 1rem;color:#1d1d1f}
h1{font-size:1.4rem}.meta{color:#666}
section{border:1px solid #ddd;border-radius:6px;margin:1rem 0;padding:.2rem 1rem 1rem}
h2{font-size:1.1rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{text-align:left;padding:.3rem .6rem;border-bottom:1px solid #eee;vertical-align:top}
th{background:#f4f4f6;font-weight:600}
.id{font-size:.8rem;color:#888;font-family:ui-monospace,monospace}
.earliest{color:#a4000f;font-weight:600}
a.edge{text-decoration:none;color:#0645ad}a.edge:hover{text-decoration:underline}
#filter{padding:.3rem .5rem;width:20rem}
"""

_JS = """
document.getElementById('filter').addEventListener('input',function(e){var q=e.target.value.toLowerCase();
document.querySelectorAll('section.cluster').forEach(function(s){
s.style.display=s.textContent.toLowerCase().indexOf(q)>=0?'':'none';});});
"""


def _graph_html(result: ScanResult, compares: bool) -> str:
    by_cluster: dict[str, list[Edge]] = defaultdict(list)
    for edge in result.edges:
        by_cluster[edge.cluster].append(edge)
    stats = result.stats
    parts = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>retold scan: {_esc(result.store)}</title><style>{_CSS}</style></head><body>",
        f"<h1>retold scan of {_esc(result.store)}</h1>",
        (f"<p class=\"meta\">{stats.documents:,} documents, {stats.pairs_total:,} pairs judged, "
         f"{len(result.edges):,} derivation edges, {len(result.clusters):,} clusters "
         f"({stats.same_event_links:,} same-event links without derivation). "
         "Click an edge to open its side-by-side comparison.</p>"),
        "<p><input id=\"filter\" type=\"search\" placeholder=\"filter clusters by id or title\"></p>",
    ]
    for cluster in result.clusters:
        parts.append(f"<section class=\"cluster\" id=\"{_esc(cluster.id)}\"><h2>{_esc(cluster.id)}: "
                     f"{len(cluster.documents)} articles, {cluster.edges} edges, "
                     f"{cluster.same_event_links} same-event links</h2>")
        parts.append("<table><tr><th>article</th><th>published</th><th>role</th></tr>")
        for doc_id in cluster.documents:
            info = result.documents.get(doc_id, {})
            role = (f"<span class=\"earliest\">earliest source ({_esc(cluster.earliest_by)})</span>"
                    if doc_id == cluster.earliest_source else "")
            parts.append(f"<tr><td>{_esc(info.get('title') or info.get('name') or doc_id)}<br>"
                         f"<span class=\"id\">{_esc(doc_id)}</span></td><td>{_esc(info.get('published') or '')}</td>"
                         f"<td>{role}</td></tr>")
        parts.append("</table>")
        edges = by_cluster.get(cluster.id, [])
        if edges:
            parts.append("<table><tr><th>derivative → source</th><th>type</th><th>p</th><th>cov. derivative</th>"
                         "<th>cov. source</th><th>direction</th></tr>")
            for edge in edges:
                label = f"{_esc(edge.derivative)} → {_esc(edge.source)}"
                if compares:
                    href = "compares/" + _esc(compare_page_name(edge))
                    label = f"<a class=\"edge\" href=\"{href}\" target=\"_blank\">{label}</a>"
                parts.append(
                    f"<tr><td>{label}</td><td>{_esc(edge.type)}</td><td>{edge.probability:.2f}</td>"
                    f"<td>{edge.coverage_derivative:.0%}</td><td>{edge.coverage_source:.0%}</td>"
                    f"<td title=\"{_esc('; '.join(edge.direction_evidence))}\">{edge.direction_confidence:.2f}</td></tr>"
                )
            parts.append("</table>")
        parts.append("</section>")
    parts.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(parts)
