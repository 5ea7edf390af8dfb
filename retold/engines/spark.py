"""The Spark engine: ``scan`` over a corpus too large for one machine, with the local engine's results.

The pipeline is five stages; each writes one Parquet checkpoint under ``OUT/tmp/<stage>.parquet``
and is skipped when that checkpoint is complete (it holds Spark's ``_SUCCESS`` marker), so an
interrupted run resumes where it stopped, as in passim. ``until`` stops after a stage.

``documents``
    The inputs (text, HTML, JSON Lines, WARC files, folders, globs) are expanded to a file list on
    the driver; executors read their share of files with :func:`retold.ingest.batch.iter_documents`
    inside ``mapPartitions``. A Parquet of documents (column ``text``; optional ``id``, ``title``,
    ``url``, ``published``, ``author``, ``site``, ``name``) is read directly and normalised with
    :func:`retold.ingest.text.make_document`. Each document gets an ``ordinal`` that follows input
    order (file number × 2³² + record number), the counterpart of the store's key. Texts seen
    earlier are dropped (same content hash, as :meth:`retold.index.Index.add` does) and a reused
    id is renamed ``<id>#<hash8>``.
``features``
    :func:`retold.retrieve.features_batch` per partition (one encoder call per 64 leads): shingle
    count, MinHash signature, anchor terms and content words, lead embedding.
``pairs``
    Candidate pairs without an all-pairs join. Three signals, as in :func:`retold.retrieve.candidates`:

    * MinHash-LSH: each signature is cut into the bands datasketch picks for ``lsh_threshold``
      (64 bands of 2 rows at the default 0.1); rows ``(band, band bytes, doc)`` are grouped by
      band key and every bucket emits its unordered pairs. A bucket larger than
      ``max_bucket_docs`` (template text, a wire story syndicated thousands of times) emits only
      the pairs of each member with the next ``max_bucket_docs`` members in ordinal order:
      O(n·cap) pairs instead of O(n²), and the bucket stays connected.
    * rare terms: rows ``(term, doc)``; a term is rare when its document frequency is at most
      ``max_df_for(documents) + 1`` (the store counts the document itself), which is also the cap
      of its bucket (≤ 1,001 documents at the default ``max_df_cap``). Each bucket emits its pairs
      with the term's weight (idf, × ``anchor_weight`` for fact anchors); summing by pair gives
      the shared rare-term weight of every pair. Each document keeps its ``anchor_pool``
      heaviest partners, as the local query does.
    * lead vectors: the embedding matrix is broadcast (4 bytes × 512 dimensions per document:
      20 MB for 10,000 documents) and every partition computes its documents' ``vector_pool``
      nearest neighbours exactly. Beyond ``vector_broadcast_max_bytes`` the run refuses and
      asks for ``vector="off"`` (the anchor and LSH signals still run).

    Every proposed (document, candidate) is scored with :func:`retold.retrieve.score_candidate`,
    the anchor pool is cut with the order of :func:`retold.retrieve.anchor_pool`, each document keeps
    its ``limit_candidates`` best (ties by candidate id) at or above ``min_candidate_score``, and
    each unordered pair is kept once, with the signals seen from its lower-ordinal proposer: the
    same pairs, scores and signals the local scan judges.
``judgements``
    Pairs are joined with both texts and judged in ``mapPartitions`` by the local scan's own
    two-tier judge, :func:`retold.scan.judge_pairs` (lexical compare, escalated to the semantic
    compare when uncertain; each compare runs segment → align → judge → facts, and the fact diff
    feeds the template filter). The
    sentence encoder is loaded once per Python worker (:func:`retold.encoders.get_encoder` caches
    it per process and Spark reuses workers).
``edges``
    Derived and same-event judgements (a small share) are collected on the driver and turned
    into edges and clusters by :func:`retold.scan.build_result` (triangle reduction, connected
    components, earliest source), then written by :meth:`retold.scan.ScanResult.write`:
    ``OUT/edges.parquet``, ``edges.jsonl``, ``edges.csv`` (:data:`retold.scan.EDGE_COLUMNS`),
    ``clusters.json``, ``graph.html``, and ``pairs.parquet``: every judgement, with document ids
    joined on the executors and streamed to the driver one partition at a time
    (:data:`retold.scan.PAIR_COLUMNS`).

Example::

    >>> from retold.engines.spark import run_spark
    >>> run_spark(["news/"], "out/", master="local[4]")         # doctest: +SKIP
    PosixPath('out/edges.parquet')
"""

from __future__ import annotations

import glob
import json
import logging
import math
import os
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..errors import ConfigError, InputError

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

    from ..compare import Settings
    from ..model import Document
    from ..retrieve import RetrieveSettings
    from ..scan import ScanResult, ScanSettings

logger = logging.getLogger(__name__)

__all__ = ["STAGES", "SparkSettings", "SparkStats", "run_spark"]

STAGES = ("documents", "features", "pairs", "judgements", "edges")
"""The stages, in order; each one's checkpoint is ``OUT/tmp/<stage>.parquet``."""

_FILE_SHIFT = 32  # ordinal = file number << 32 | record number in the file
_PARQUET_FIELDS = ("id", "name", "title", "url", "published", "author", "site")


@dataclass(frozen=True)
class SparkSettings:
    """The knobs of the Spark plumbing (the judging and retrieval knobs stay in their own settings).

    Attributes:
        max_bucket_docs: LSH buckets with more members emit only each member's pairs with the
            next ``max_bucket_docs`` members (see the module docstring).
        vector: ``broadcast`` (exact nearest lead vectors, matrix broadcast to every executor)
            or ``off`` (no vector signal: cheaper, finds fewer paraphrases).
        vector_broadcast_max_bytes: the largest embedding matrix ``broadcast`` accepts.
        features_batch_docs: documents per encoder call in the features stage.
        judge_pairs_per_partition: pairs per judging task (~10 ms lexical, ~0.4 s semantic each).
        files_per_partition: input files per ingest task.
        shuffle_partitions: ``spark.sql.shuffle.partitions`` when this engine creates the
            session; ``None``: 4 × local cores for ``local[...]``, Spark's default otherwise.

    Example:
        >>> SparkSettings(vector="off").vector
        'off'
    """

    max_bucket_docs: int = 200
    vector: Literal["broadcast", "off"] = "broadcast"
    vector_broadcast_max_bytes: int = 1 << 30
    features_batch_docs: int = 64
    judge_pairs_per_partition: int = 32
    files_per_partition: int = 4
    shuffle_partitions: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_bucket_docs", "vector_broadcast_max_bytes", "features_batch_docs",
                     "judge_pairs_per_partition", "files_per_partition"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"spark.{name} must be a positive integer, got {value!r}")
        if self.vector not in ("broadcast", "off"):
            raise ConfigError(f"spark.vector must be broadcast or off, got {self.vector!r}")
        if self.max_bucket_docs < 2:
            raise ConfigError("spark.max_bucket_docs must be at least 2")


@dataclass
class SparkStats:
    """What one :func:`run_spark` call did (written to ``OUT/spark_stats.json``).

    Attributes:
        documents: documents after dropping repeated texts.
        lsh_buckets_capped: LSH buckets larger than ``max_bucket_docs``.
        pairs: unordered pairs judged.
        pairs_escalated: of those, judged by the semantic compare.
        edges, clusters: in the final result.
        stage_s: wall seconds per stage (0 for a stage read from its checkpoint).
        skipped: stages read from their checkpoint.
    """

    documents: int = 0
    lsh_buckets_capped: int = 0
    pairs: int = 0
    pairs_escalated: int = 0
    edges: int = 0
    clusters: int = 0
    stage_s: dict[str, float] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


# --- pure helpers (no Spark) ------------------------------------------------------------------------


def expand_inputs(inputs: Sequence[str | os.PathLike[str]]) -> list[str]:
    """The files :func:`retold.ingest.batch.iter_documents` would read, in the order it reads them.

    Raises:
        InputError: an input is missing, or a pattern matches no file.
    """
    from ..ingest import batch

    files: list[str] = []
    seen: set[Path] = set()
    for item in inputs:
        text = os.fspath(item)
        if text == "-":
            raise InputError("-", "the Spark engine cannot read stdin; pass files or a Parquet of documents")
        path = Path(text)
        if path.is_dir():
            found = sorted(batch._walk(path))
        elif path.is_file():
            found = [path]
        elif set("*?[") & set(text):
            found = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
            if not found:
                raise InputError(text, "no file matches this pattern")
        else:
            raise InputError(text, "file not found")
        for file in found:
            key = file.resolve()
            if key not in seen:
                seen.add(key)
                files.append(str(file))
    return files


def is_parquet_input(inputs: Sequence[str | os.PathLike[str]]) -> bool:
    """True when every input names a Parquet file or folder (``*.parquet``)."""
    return bool(inputs) and all(os.fspath(i).rstrip("/").lower().endswith(".parquet") for i in inputs)


def _document_row(ordinal: int, doc: Document) -> dict[str, Any]:
    from ..retrieve import content_hash

    return {"ordinal": ordinal, "id": doc.id, "name": doc.name, "title": doc.title, "url": doc.url,
            "published": doc.published, "author": doc.author, "site": doc.site, "format": doc.format,
            "text": doc.text, "content_hash": content_hash(doc.text)}


def _row_document(row: Any, prefix: str = "") -> Document:
    from ..model import Document

    get = (lambda name: row[prefix + name])
    return Document(text=get("text"), id=get("id"), name=get("name") or get("id"), title=get("title"),
                    url=get("url"), published=get("published"), author=get("author"), site=get("site"),
                    format=get("format") or "text")


def read_files_partition(items: Iterable[tuple[int, str]]) -> Iterator[dict[str, Any]]:
    """Documents of ``(file number, path)`` items, read by ``iter_documents`` (bad records logged, skipped)."""
    from ..ingest.batch import iter_documents

    for number, path in items:
        for record, doc in enumerate(iter_documents([path])):
            yield _document_row((number << _FILE_SHIFT) | record, doc)


def parquet_partition(rows: Iterable[tuple[Any, int]]) -> Iterator[dict[str, Any]]:
    """Documents of ``(row, index)`` items from a Parquet of documents, normalised like any input."""
    from ..ingest.text import make_document

    for row, index in rows:
        data = row.asDict()
        text = data.get("text")
        if not isinstance(text, str) or not text.strip():
            continue
        name = data.get("name") or f"parquet#{index}"
        try:
            doc = make_document(text, name, "parquet", id=data.get("id"), title=data.get("title"),
                                url=data.get("url"), published=data.get("published") or data.get("date"),
                                author=data.get("author"), site=data.get("site"))
        except InputError:
            continue  # too little text: skipped by design, as iter_documents does
        yield _document_row(index, doc)


def features_partition(rows: Iterable[Any], retrieve_settings: RetrieveSettings,
                       batch_docs: int) -> Iterator[dict[str, Any]]:
    """Retrieval features of documents, with :func:`retold.retrieve.features_batch`."""
    from ..retrieve import features_batch

    def flush(chunk: list[Any]) -> Iterator[dict[str, Any]]:
        for row, feats in zip(chunk, features_batch([_row_document(r) for r in chunk], retrieve_settings)):
            yield {
                "ordinal": row["ordinal"], "id": row["id"], "shingle_count": feats.shingle_count,
                "minhash": feats.minhash.astype("<u4").tobytes(), "terms": list(feats.terms),
                "embedding": None if feats.embedding is None else feats.embedding.astype("<f4").tobytes(),
            }

    chunk: list[Any] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= batch_docs:
            yield from flush(chunk)
            chunk = []
    if chunk:
        yield from flush(chunk)


def lsh_bands(num_perm: int, threshold: float) -> list[tuple[int, int]]:
    """The ``(start, end)`` hash ranges datasketch's MinHashLSH uses for these settings."""
    from datasketch import MinHashLSH  # type: ignore[import-untyped]

    return [tuple(r) for r in MinHashLSH(threshold=threshold, num_perm=num_perm).hashranges]  # type: ignore[misc]


def band_rows(rows: Iterable[Any], bands: Sequence[tuple[int, int]]) -> Iterator[tuple[int, bytes, int]]:
    """``(band, band bytes, ordinal)`` for every band of every document with shingles."""
    for row in rows:
        if not row["shingle_count"]:
            continue  # an empty text's sentinel signature would match every other empty text
        signature = np.frombuffer(row["minhash"], dtype="<u4")
        for band, (start, end) in enumerate(bands):
            yield band, signature[start:end].tobytes(), row["ordinal"]


def bucket_pairs(members: Sequence[int], cap: int) -> Iterator[tuple[int, int]]:
    """Unordered pairs ``(low, high)`` of a bucket; beyond ``cap`` members each pairs with the next ``cap``.

    Example:
        >>> list(bucket_pairs([3, 1, 2], cap=5))
        [(1, 2), (1, 3), (2, 3)]
        >>> list(bucket_pairs([1, 2, 3, 4], cap=2))
        [(1, 2), (1, 3), (2, 3), (2, 4), (3, 4)]
    """
    ordered = sorted(set(members))
    window = min(len(ordered), cap)
    for i, low in enumerate(ordered):
        for high in ordered[i + 1 : i + 1 + window]:
            yield low, high


def score_partition(rows: Iterable[Any], retrieve_settings: RetrieveSettings) -> Iterator[dict[str, Any]]:
    """Score (document, candidate) rows with :func:`retold.retrieve.score_candidate`, as the local query does.

    Each row holds the query's and the candidate's signature, shingle count and embedding, the
    pair's shared rare-term weight and the query's total rare-term weight. Rows scoring below
    ``min_score`` are dropped.
    """
    from ..retrieve import score_candidate

    s = retrieve_settings

    def vector(blob: bytes | None) -> np.ndarray | None:
        return None if blob is None else np.frombuffer(blob, dtype="<f4")

    for row in rows:
        score, signals = score_candidate(
            np.frombuffer(row["q_minhash"], dtype="<u4"), row["q_count"],
            np.frombuffer(row["c_minhash"], dtype="<u4"), row["c_count"],
            row["shared"] or 0.0, row["total_weight"] or 0.0,
            vector(row["q_embedding"]), vector(row["c_embedding"]), s,
        )
        if score < s.min_score:
            continue
        yield {"q": row["q"], "c": row["c"], "c_id": row["c_id"], "score": round(score, 4), **signals}


def collapse_partition(rows: Iterable[Any], threshold: float) -> Iterator[dict[str, Any]]:
    """Apply :func:`retold.scan.collapse_near_duplicates` to each document's kept candidates.

    Each row holds a document ``q`` and ``found``: its candidates with their signals, shingle
    counts and signatures; the rows of the candidates worth judging come out, as ``scored`` rows.
    """
    from ..scan import collapse_near_duplicates

    signal_names = ("shingles", "jaccard", "anchors", "vector")
    for row in rows:
        found = [(c["c"], c["score"], {name: c[name] for name in signal_names}) for c in row["found"]]
        signatures = {c["c"]: (np.frombuffer(c["c_minhash"], dtype="<u4"), c["c_count"]) for c in row["found"]}
        ids = {c["c"]: c["c_id"] for c in row["found"]}
        for key, score, signals in collapse_near_duplicates(row["q"], found, signatures, threshold):
            yield {"q": row["q"], "c": key, "c_id": ids[key], "score": score, **signals}


def nearest_partition(rows: Iterable[Any], keys: np.ndarray, matrix: np.ndarray, k: int,
                      min_cosine: float, block: int = 512) -> Iterator[tuple[int, int, float]]:
    """``(query, neighbour, cosine)``: each document's ``k`` nearest others with cosine ≥ ``min_cosine``."""
    batch = [(r["ordinal"], np.frombuffer(r["embedding"], dtype="<f4")) for r in rows if r["embedding"] is not None]
    take = min(k + 1, len(keys))
    for start in range(0, len(batch), block):
        part = batch[start : start + block]
        sims = np.stack([v for _, v in part]) @ matrix.T
        top = np.argpartition(-sims, take - 1, axis=1)[:, :take] if take < len(keys) else \
            np.tile(np.arange(len(keys)), (len(part), 1))
        for (query, _), row_sims, cols in zip(part, sims, top):
            found = sorted(((float(row_sims[c]), int(keys[c])) for c in cols), reverse=True)
            for cosine, neighbour in found:
                if neighbour != query and cosine >= min_cosine:
                    yield query, neighbour, cosine


def judge_partition(rows: Iterable[Any], settings: Settings, scan_settings: ScanSettings) -> Iterator[tuple[Any, ...]]:
    """Judge pairs (rows with both documents) with :func:`retold.scan.judge_pairs`, the local scan's judge.

    Yields the scan's result rows: ``(doc_a, doc_b, derived, derivative, source, probability,
    type, coverage_derivative, coverage_source, direction_confidence, direction_evidence (JSON),
    same_event, stage, retrieval_score, judged_at)``.
    """
    from ..scan import judge_pairs

    documents: dict[int, Document] = {}
    pairs: list[tuple[int, int, float, dict[str, float]]] = []
    for row in rows:
        documents.setdefault(row["doc_a"], _row_document(row, "a_"))
        documents.setdefault(row["doc_b"], _row_document(row, "b_"))
        signals = {name: row[name] for name in ("shingles", "jaccard", "anchors", "vector")}
        pairs.append((row["doc_a"], row["doc_b"], row["score"], signals))
    if pairs:
        yield from judge_pairs(sorted(pairs, key=lambda p: (p[0], p[1])), documents, settings, scan_settings)


# --- Spark plumbing ---------------------------------------------------------------------------------


def _import_pyspark() -> Any:
    try:
        import pyspark  # noqa: F401
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ConfigError("the Spark engine needs pyspark: pip install 'retold[spark]' (and Java 17+)") from exc
    return SparkSession


def _session(master: str | None, spark_settings: SparkSettings) -> SparkSession:
    SparkSession = _import_pyspark()
    builder = SparkSession.builder.appName("retold")
    if master is not None:  # None: the master spark-submit was given
        builder = builder.master(master)
    builder = builder.config("spark.ui.showConsoleProgress", "false")
    partitions = spark_settings.shuffle_partitions
    if master is not None and master.startswith("local"):
        inner = master[master.find("[") + 1 : -1] if "[" in master else "1"
        cores = (os.cpu_count() or 1) if inner in ("*", "") else int(inner.split(",")[0])
        partitions = partitions or 4 * cores
        # Local workers run this interpreter (this virtualenv), unless the user chose one.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    if partitions:
        builder = builder.config("spark.sql.shuffle.partitions", str(partitions))
    try:
        return builder.getOrCreate()
    except Exception as exc:  # pyspark raises its own runtime error when the JVM does not start
        if "JAVA" in str(exc).upper():
            raise ConfigError(f"Spark could not start Java ({exc}); install Java 17, e.g. "
                              "apt-get install -y openjdk-17-jre-headless, or set JAVA_HOME") from exc
        raise


def _complete(spark: SparkSession, path: str) -> bool:
    """True when ``path`` holds a finished Spark write (its ``_SUCCESS`` marker)."""
    jvm = spark.sparkContext._jvm
    marker = jvm.org.apache.hadoop.fs.Path(path.rstrip("/") + "/_SUCCESS")  # type: ignore[union-attr]
    fs = marker.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())  # type: ignore[union-attr]
    return bool(fs.exists(marker))


def _schema(name: str) -> Any:
    from pyspark.sql import types as T

    string, long, double = T.StringType(), T.LongType(), T.DoubleType()
    if name == "documents":
        return T.StructType([T.StructField("ordinal", long, False)] + [
            T.StructField(f, string) for f in ("id", "name", "title", "url", "published", "author", "site",
                                               "format", "text", "content_hash")])
    if name == "features":
        return T.StructType([
            T.StructField("ordinal", long, False), T.StructField("id", string),
            T.StructField("shingle_count", long), T.StructField("minhash", T.BinaryType()),
            T.StructField("terms", T.ArrayType(string)), T.StructField("embedding", T.BinaryType()),
        ])
    if name == "scored":
        return T.StructType([T.StructField("q", long), T.StructField("c", long), T.StructField("c_id", string)]
                            + [T.StructField(f, double) for f in ("score", "shingles", "jaccard", "anchors", "vector")])
    if name == "judgements":
        return T.StructType([
            T.StructField("doc_a", long), T.StructField("doc_b", long), T.StructField("derived", long),
            T.StructField("derivative", long), T.StructField("source", long), T.StructField("probability", double),
            T.StructField("type", string), T.StructField("coverage_derivative", double),
            T.StructField("coverage_source", double), T.StructField("direction_confidence", double),
            T.StructField("direction_evidence", string), T.StructField("same_event", long),
            T.StructField("stage", string), T.StructField("retrieval_score", double),
            T.StructField("judged_at", double),
        ])
    raise KeyError(name)


@dataclass
class _Run:
    spark: SparkSession
    inputs: list[str]
    tmp: str
    settings: Settings
    retrieve: RetrieveSettings
    scan: ScanSettings
    plumbing: SparkSettings
    stats: SparkStats
    files: list[str] = field(default_factory=list)
    capped: Any = None
    kept: list[Any] = field(default_factory=list)

    def keep(self, frame: DataFrame) -> DataFrame:
        """Persist a frame the stage reads more than once (unpersisted when the stage is written)."""
        from pyspark import StorageLevel

        self.kept.append(frame.persist(StorageLevel.MEMORY_AND_DISK))
        return frame

    def release(self) -> None:
        for frame in self.kept:
            frame.unpersist()
        self.kept.clear()

    def checkpoint(self, stage: str) -> str:
        return f"{self.tmp}/{stage}.parquet"


def _stage_documents(run: _Run) -> DataFrame:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    spark = run.spark
    if is_parquet_input(run.inputs):
        source = spark.read.parquet(*run.inputs)
        if "text" not in source.columns:
            raise InputError(run.inputs[0], "a Parquet of documents needs a 'text' column")
        rdd = source.rdd.zipWithIndex().mapPartitions(parquet_partition)
    else:
        files = run.files
        slices = max(1, math.ceil(len(files) / run.plumbing.files_per_partition))
        rdd = spark.sparkContext.parallelize(list(enumerate(files)), slices).mapPartitions(read_files_partition)
    docs = spark.createDataFrame(rdd, _schema("documents"))
    first = Window.partitionBy("content_hash").orderBy("ordinal")
    docs = docs.withColumn("_n", F.row_number().over(first)).where("_n = 1").drop("_n")
    same_id = Window.partitionBy("id").orderBy("ordinal")
    docs = docs.withColumn("_n", F.row_number().over(same_id)).withColumn(
        "id", F.when(F.col("_n") > 1, F.concat(F.col("id"), F.lit("#"), F.substring("content_hash", 1, 8)))
        .otherwise(F.col("id"))).drop("_n")
    return docs


def _stage_features(run: _Run, documents: DataFrame) -> DataFrame:
    retrieve, batch = run.retrieve, run.plumbing.features_batch_docs
    rdd = documents.rdd.mapPartitions(lambda rows: features_partition(rows, retrieve, batch))
    return run.spark.createDataFrame(rdd, _schema("features"))


def _stage_pairs(run: _Run, features: DataFrame) -> DataFrame:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    spark, rs, cap = run.spark, run.retrieve, run.plumbing.max_bucket_docs
    features = run.keep(features)  # read by five branches of this stage
    n_docs = features.count()
    run.stats.documents = n_docs
    long_pair = "struct<a:bigint,b:bigint>"

    # 1. MinHash-LSH buckets.
    bands = lsh_bands(rs.num_perm, rs.lsh_threshold)
    band_df = spark.createDataFrame(features.select("ordinal", "shingle_count", "minhash").rdd
                                    .mapPartitions(lambda rows: band_rows(rows, bands)),
                                    "band int, bucket binary, ordinal bigint")
    buckets = band_df.groupBy("band", "bucket").agg(F.collect_list("ordinal").alias("members")) \
        .where(F.size("members") > 1)
    capped = spark.sparkContext.accumulator(0)  # counted while the stage runs, not by another job

    def lsh_pairs(row: Any) -> Iterator[tuple[int, int]]:
        if len(row["members"]) > cap:
            capped.add(1)
        return bucket_pairs(row["members"], cap)

    lsh = run.keep(spark.createDataFrame(buckets.select("members").rdd.flatMap(lsh_pairs), long_pair).distinct())
    run.capped = capped

    # 2. Rare terms: every pair sharing one, with the summed weight of what it shares.
    max_df = rs.max_df_for(n_docs)
    postings = features.select("ordinal", F.explode("terms").alias("term"))
    # Count first, collect only rare terms' members: a common term's list would not fit a task.
    rare_terms = postings.groupBy("term").agg(F.count(F.lit(1)).alias("df")) \
        .where((F.col("df") >= 2) & (F.col("df") <= max_df + 1))
    rare = run.keep(postings.join(rare_terms, "term").groupBy("term", "df") \
        .agg(F.collect_list("ordinal").alias("members")) \
        .withColumn("weight", F.log(F.lit(float(n_docs + 1)) / (F.col("df") - 1))
                    * F.when(F.col("term").startswith("w:"), F.lit(1.0)).otherwise(F.lit(rs.anchor_weight))))
    total_weight = rare.select(F.explode("members").alias("q"), "weight").groupBy("q") \
        .agg(F.sum("weight").alias("total_weight"))
    big = max_df + 1
    shared = run.keep(spark.createDataFrame(
        rare.select("members", "weight").rdd.flatMap(
            lambda r: ((a, b, r["weight"]) for a, b in bucket_pairs(r["members"], big))),
        "a bigint, b bigint, weight double").groupBy("a", "b").agg(F.sum("weight").alias("shared")))
    shared_both = shared.select(F.col("a").alias("q"), F.col("b").alias("c"), "shared").unionByName(
        shared.select(F.col("b").alias("q"), F.col("a").alias("c"), "shared"))
    pool = Window.partitionBy("q").orderBy(F.desc("shared"), F.asc("c"))
    anchor_pool = shared_both.withColumn("_n", F.row_number().over(pool)) \
        .where(F.col("_n") <= rs.anchor_pool).select("q", "c")

    # 3. Nearest lead vectors.
    proposed = lsh.select(F.col("a").alias("q"), F.col("b").alias("c")).unionByName(
        lsh.select(F.col("b").alias("q"), F.col("a").alias("c"))).unionByName(anchor_pool)
    if run.plumbing.vector == "broadcast":
        vectors = features.where(F.col("embedding").isNotNull()).select("ordinal", "embedding").collect()
        if vectors:
            matrix = np.stack([np.frombuffer(r["embedding"], dtype="<f4") for r in vectors])
            if matrix.nbytes > run.plumbing.vector_broadcast_max_bytes:
                raise ConfigError(
                    f"the lead-vector matrix is {matrix.nbytes / 2**20:,.0f} MiB, above "
                    f"vector_broadcast_max_bytes; run with --vector off (see docs/spark.md)")
            keys = np.array([r["ordinal"] for r in vectors], dtype=np.int64)
            shared_matrix = spark.sparkContext.broadcast((keys, matrix))
            k, min_cosine = rs.vector_pool, rs.min_cosine

            def nearest(rows: Iterable[Any]) -> Iterator[tuple[int, int, float]]:
                held_keys, held_matrix = shared_matrix.value
                return nearest_partition(rows, held_keys, held_matrix, k, min_cosine)

            near = spark.createDataFrame(features.select("ordinal", "embedding").rdd.mapPartitions(nearest),
                                         "q bigint, c bigint, cosine double")
            proposed = proposed.unionByName(near.select("q", "c"))
    proposed = proposed.distinct()

    # Score every proposal with all three signals, keep each document's best.
    side = features.select("ordinal", "id", "shingle_count", "minhash", "embedding")
    q_side = side.select(F.col("ordinal").alias("q"), F.col("shingle_count").alias("q_count"),
                         F.col("minhash").alias("q_minhash"), F.col("embedding").alias("q_embedding"))
    c_side = side.select(F.col("ordinal").alias("c"), F.col("id").alias("c_id"),
                         F.col("shingle_count").alias("c_count"), F.col("minhash").alias("c_minhash"),
                         F.col("embedding").alias("c_embedding"))
    rows = proposed.join(q_side, "q").join(c_side, "c") \
        .join(shared_both, ["q", "c"], "left").join(total_weight, "q", "left")
    scored = spark.createDataFrame(rows.rdd.mapPartitions(lambda it: score_partition(it, rs)), _schema("scored"))
    best = Window.partitionBy("q").orderBy(F.desc("score"), F.asc("c_id"))
    kept = scored.withColumn("_rank", F.row_number().over(best)) \
        .where((F.col("_rank") <= run.scan.limit_candidates) & (F.col("score") >= run.scan.min_candidate_score)) \
        .drop("_rank")
    if run.scan.duplicate_jaccard <= 1.0:  # near-duplicates judged in a star, as the local scan does
        # A document with an earlier near-duplicate is paired with the earliest one only ...
        earliest = Window.partitionBy("q").orderBy("c")
        copy_rows = scored.where((F.col("c") < F.col("q")) & (F.col("jaccard") >= run.scan.duplicate_jaccard)) \
            .withColumn("_n", F.row_number().over(earliest)).where("_n = 1").drop("_n")
        kept = kept.join(copy_rows.select("q"), "q", "left_anti")
        # ... and the others drop candidates that have an earlier near-duplicate among their candidates.
        signatures = side.select(F.col("ordinal").alias("c"), F.col("shingle_count").alias("c_count"),
                                 F.col("minhash").alias("c_minhash"))
        grouped = kept.join(signatures, "c").groupBy("q").agg(F.collect_list(F.struct(
            "c", "c_id", "score", "shingles", "jaccard", "anchors", "vector", "c_count", "c_minhash")).alias("found"))
        threshold = run.scan.duplicate_jaccard
        kept = spark.createDataFrame(grouped.rdd.mapPartitions(lambda it: collapse_partition(it, threshold)),
                                     _schema("scored")).unionByName(copy_rows)
    unordered = kept.withColumn("doc_a", F.least("q", "c")).withColumn("doc_b", F.greatest("q", "c"))
    first = Window.partitionBy("doc_a", "doc_b").orderBy("q")
    return unordered.withColumn("_n", F.row_number().over(first)).where("_n = 1") \
        .select("doc_a", "doc_b", "score", "shingles", "jaccard", "anchors", "vector")


def _stage_judgements(run: _Run, pairs: DataFrame, documents: DataFrame) -> DataFrame:
    from pyspark.sql import functions as F

    n_pairs = pairs.count()
    run.stats.pairs = n_pairs
    fields = ("id", "name", "title", "url", "published", "author", "site", "format", "text")

    def side(prefix: str) -> DataFrame:
        return documents.select(F.col("ordinal").alias(f"doc_{prefix}"),
                                *[F.col(f).alias(f"{prefix}_{f}") for f in fields])

    slices = max(1, math.ceil(n_pairs / run.plumbing.judge_pairs_per_partition))
    rows = pairs.join(side("a"), "doc_a").join(side("b"), "doc_b").repartition(slices, "doc_a", "doc_b")
    settings, scan_settings = run.settings, run.scan
    judged = rows.rdd.mapPartitions(lambda it: judge_partition(it, settings, scan_settings))
    return run.spark.createDataFrame(judged, _schema("judgements"))


def _stage_edges(run: _Run, judgements: DataFrame, documents: DataFrame, out: Path) -> ScanResult:
    from pyspark.sql import functions as F

    from ..scan import build_result

    linked = judgements.where((F.col("derived") == 1) | (F.col("same_event") == 1)).orderBy("doc_a", "doc_b")
    judged = [tuple(r) for r in linked.collect()]
    keys = sorted({k for r in judged for k in r[:2]})
    key_df = run.spark.createDataFrame([(k,) for k in keys], "ordinal bigint")
    meta = [tuple(r) for r in documents.join(F.broadcast(key_df), "ordinal")
            .select("ordinal", "id", "title", "published", "name").collect()]
    counts = judgements.agg(F.count(F.lit(1)).alias("n"),
                            F.sum(F.when(F.col("stage") == "semantic", 1).otherwise(0)).alias("sem")).collect()[0]
    run.stats.pairs = int(counts["n"])
    run.stats.pairs_escalated = int(counts["sem"] or 0)
    run.stats.documents = run.stats.documents or documents.count()
    result = build_result(judged, {int(m[0]): tuple(m[1:]) for m in meta}, run.stats.documents,  # type: ignore[misc]
                          run.stats.pairs, str(out), run.settings)
    result.stats.pairs_judged = run.stats.pairs
    result.stats.pairs_escalated = run.stats.pairs_escalated
    result.stats.documents_scanned = run.stats.documents
    return result


def _pair_rows(judgements: DataFrame, documents: DataFrame) -> Iterator[tuple[Any, ...]]:
    """Every judgement with document ids in place of ordinals, sorted by ordinals, for ``pairs.parquet``.

    The ids are joined on the executors; the driver receives one partition at a time
    (``toLocalIterator``), so the export streams however many pairs were judged.
    """
    from pyspark.sql import functions as F

    a, b = F.col("a"), F.col("b")
    ids = documents.select("ordinal", "id")
    frame = judgements \
        .join(ids.select(F.col("ordinal").alias("doc_a"), F.col("id").alias("a")), "doc_a") \
        .join(ids.select(F.col("ordinal").alias("doc_b"), F.col("id").alias("b")), "doc_b") \
        .select("a", "b", "derived",
                F.when(F.col("derivative") == F.col("doc_a"), a).otherwise(b).alias("derivative"),
                F.when(F.col("source") == F.col("doc_a"), a).otherwise(b).alias("source"),
                "probability", "type", "coverage_derivative", "coverage_source", "direction_confidence",
                "direction_evidence", "same_event", "stage", "retrieval_score", "doc_a", "doc_b") \
        .orderBy("doc_a", "doc_b")
    for row in frame.toLocalIterator():
        yield tuple(row)[:14]


def _check_recorded(tmp: Path, recorded: dict[str, Any]) -> None:
    path = tmp / "settings.json"
    if path.exists():
        before = json.loads(path.read_text(encoding="utf-8"))
        if before != recorded:
            raise ConfigError(f"{tmp}: checkpoints were made with other settings; use another --out or remove "
                              f"{tmp} to start over")
    else:
        tmp.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def run_spark(
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    master: str | None = "local[2]",
    *,
    until: str | None = None,
    settings: Settings | None = None,
    retrieve_settings: RetrieveSettings | None = None,
    scan_settings: ScanSettings | None = None,
    spark_settings: SparkSettings | None = None,
    spark: SparkSession | None = None,
    checkpoint_dir: str | None = None,
) -> Path:
    """Scan a corpus on Spark: the same edges as :func:`retold.scan.scan` over a store of it.

    Args:
        inputs: files, folders and glob patterns (read by ``iter_documents`` on the executors,
            so on a cluster they must be on a file system every executor sees), or ``*.parquet``
            paths of documents (any Hadoop URI).
        out_dir: a local or shared folder: checkpoints in ``out_dir/tmp``, exports beside them.
        master: the Spark master when this call starts the session (``local[2]``, ``yarn``, ...);
            ``None`` keeps the one ``spark-submit`` was given.
        until: stop after this stage (one of :data:`STAGES`) and return its checkpoint.
        settings: compare settings of the semantic tier (default ``Settings()``).
        retrieve_settings: feature and retrieval settings (default ``RetrieveSettings()``).
        scan_settings: candidate limits and judging tiers (default ``ScanSettings()``).
        spark_settings: the plumbing knobs (:class:`SparkSettings`).
        spark: an existing session to use (it is left running).
        checkpoint_dir: where the stage checkpoints go instead of ``out_dir/tmp``: any Hadoop
            URI (``hdfs:///user/me/retold-tmp``, ``s3a://bucket/run-7``), for clusters whose
            executors do not share ``out_dir``.

    Returns:
        ``out_dir/edges.parquet``, or the checkpoint of ``until`` (a path, or a URI string
        inside a ``Path`` when ``checkpoint_dir`` is remote).

    Raises:
        ConfigError: pyspark is missing, ``until`` is unknown, or ``out_dir/tmp`` holds
            checkpoints made with other settings.
        InputError: an input is missing or a pattern matches nothing.
    """
    from ..compare import Settings
    from ..retrieve import RetrieveSettings
    from ..scan import ScanSettings

    if until is not None and until not in STAGES:
        raise ConfigError(f"unknown stage {until!r}; stages: {', '.join(STAGES)}")
    settings = settings or Settings()
    retrieve = retrieve_settings or RetrieveSettings()
    scan_settings = scan_settings or ScanSettings()
    plumbing = spark_settings or SparkSettings()
    files: list[str] = []
    if not is_parquet_input(inputs):  # check the inputs before starting a JVM
        files = expand_inputs(inputs)
        if not files:
            raise InputError(", ".join(os.fspath(i) for i in inputs), "no input files with a known extension")
    out = Path(out_dir)
    tmp = out / "tmp"
    _check_recorded(tmp, json.loads(json.dumps({
        "inputs": [os.fspath(i) for i in inputs], "retrieve": asdict(retrieve), "scan": scan_settings.recorded(),
        "encoder": settings.align.encoder, "max_bucket_docs": plumbing.max_bucket_docs, "vector": plumbing.vector,
    }, default=str)))
    own_session = spark is None
    if spark is None:
        spark = _session(master, plumbing)
    checkpoints = (checkpoint_dir or tmp.resolve().as_uri()).rstrip("/")
    run = _Run(spark, [os.fspath(i) for i in inputs], checkpoints, settings, retrieve, scan_settings,
               plumbing, SparkStats(), files)
    started = time.perf_counter()
    try:
        frames: dict[str, DataFrame] = {}
        builders = {
            "documents": lambda: _stage_documents(run),
            "features": lambda: _stage_features(run, frames["documents"]),
            "pairs": lambda: _stage_pairs(run, frames["features"]),
            "judgements": lambda: _stage_judgements(run, frames["pairs"], frames["documents"]),
        }
        for stage in STAGES[:-1]:
            path = run.checkpoint(stage)
            t0 = time.perf_counter()
            if _complete(spark, path):
                run.stats.skipped.append(stage)
                logger.info("%s: checkpoint present, skipped", stage)
            else:
                builders[stage]().write.mode("overwrite").parquet(path)
                run.release()
                if stage == "pairs" and run.capped is not None:
                    run.stats.lsh_buckets_capped = int(run.capped.value)
                logger.info("%s: written in %.1f s", stage, time.perf_counter() - t0)
            frames[stage] = spark.read.parquet(path)
            run.stats.stage_s[stage] = round(time.perf_counter() - t0, 2)
            if stage == until:
                return tmp / f"{stage}.parquet" if checkpoint_dir is None else Path(path)
        t0 = time.perf_counter()
        edges_checkpoint = run.checkpoint("edges")
        if _complete(spark, edges_checkpoint) and all((out / name).exists() for name in
                                                      ("edges.parquet", "pairs.parquet", "clusters.json")):
            run.stats.skipped.append("edges")
            done = json.loads((out / "clusters.json").read_text(encoding="utf-8"))["stats"]
            run.stats.documents, run.stats.pairs = done["documents"], done["pairs_total"]
            run.stats.pairs_escalated = done["pairs_escalated"]
            run.stats.edges, run.stats.clusters = done["edges"], done["clusters"]
        else:
            result = _stage_edges(run, frames["judgements"], frames["documents"], out)
            result.stats.elapsed_s = time.perf_counter() - started
            result.write(out, compares=False, pairs=_pair_rows(frames["judgements"], frames["documents"]))
            run.stats.edges, run.stats.clusters = len(result.edges), len(result.clusters)
            exported = spark.read.parquet((out / "edges.parquet").resolve().as_uri())
            exported.coalesce(1).write.mode("overwrite").parquet(edges_checkpoint)
        run.stats.stage_s["edges"] = round(time.perf_counter() - t0, 2)
        (out / "spark_stats.json").write_text(json.dumps(asdict(run.stats), indent=2) + "\n", encoding="utf-8")
        return out / "edges.parquet"
    finally:
        if own_session:
            spark.stop()
