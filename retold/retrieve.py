"""The retrieve stage: candidate sources for one document, without comparing it to every other.

Three signals, each sub-quadratic in the size of the store, are unioned and then re-ranked:

``shingles``
    MinHash-LSH over word ``shingle_size``-grams of the lower-cased text, with the bands and rows
    datasketch's :class:`~datasketch.MinHashLSH` picks, its buckets kept in sorted numpy arrays
    (:class:`retold.index.BandTable`: ~1 s to read at 100k documents, the same keys as datasketch's
    hash tables). It finds near-verbatim reuse: a copy, a light edit, a close rewrite. Its value for a
    candidate is the *containment* of the shorter text's shingles in the longer one's, estimated
    from the two signatures and the two shingle counts, so a condensed rewrite of a long story
    scores as well as a full copy.

``anchors``
    Shared rare anchor terms: numbers (``num:1600000``), names (``name:tomas varga``), quotations
    (``quote:tonnage over the bay``) and identifiers from :func:`retold.facts.extract_facts`, plus
    content words (``w:dredg``, truncation stems from :mod:`retold.features`). Only terms whose
    document frequency is at most ``max_df`` (see :meth:`RetrieveSettings.max_df_for`) are looked
    up, so every posting list read is short. Anchors survive paraphrase: a rewrite changes the
    words around "1.2 billion crowns" and "Tomas Varga", rarely the figures and the names. The
    value is the share of the query's rare-term weight (idf, fact anchors weighted by
    ``anchor_weight``) that the candidate shares.

``vector``
    Nearest neighbours (faiss, exact inner product) of one embedding per document: the sentence
    encoder applied to the title plus the first body sentences, at most ``lead_chars`` characters.
    News puts the event in the headline and the lead, and a rewrite keeps the event. Encoding the
    whole article instead costs ~16 sentences per BBC article, at ~500 sentences/s/core (measured)
    that is ~30 documents/s/core, far below the 200 documents/s indexing target; the lead costs one
    ~300-character text, ~4 ms (USE runs at about 70,000 characters/s/core, linear in length).

The union of the three is re-ranked by ``score = w_shingles * shingles + w_anchors * anchors +
w_vector * vector`` (vector rescaled from ``[min_cosine, 1]`` to ``[0, 1]``) and cut to ``limit``.

Example::

    >>> from retold.index import Index
    >>> with Index.open("store/") as index:                       # doctest: +SKIP
    ...     for c in candidates(index, load("rewrite.txt"), limit=5):
    ...         print(c.doc_id, round(c.score, 2), c.signals)
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ConfigError
from .model import Document, Segmentation

if TYPE_CHECKING:  # pragma: no cover
    from .index import Index

logger = logging.getLogger(__name__)

__all__ = [
    "FEATURE_FIELDS",
    "Candidate",
    "DocumentFeatures",
    "RetrieveSettings",
    "anchor_pool",
    "candidates",
    "content_hash",
    "document_features",
    "features_batch",
    "score_candidate",
]

MINHASH_SCHEME = "affine32"
"""datasketch permutation scheme of the stored signatures (uint32 hash values)."""

_ANCHOR_PREFIX = {
    "number": "num:",
    "identifier": "id:",
    "quote": "quote:",
    "person": "name:",
    "org": "name:",
    "place": "name:",
    "name": "name:",
}
_QUOTE_WORDS = 12
_WORD_PREFIX = "w:"


@dataclass(frozen=True)
class RetrieveSettings:
    """Every knob of indexing features and candidate retrieval.

    The first group decides what is *stored* for each document (:data:`FEATURE_FIELDS`); a store
    records them when it is created and refuses to be opened with other values (a signature made
    with another seed or shingle size silently matches nothing). The second group is read at query
    time and may change freely.

    Attributes:
        shingle_size: words per shingle for MinHash. 3 measured best on our example rewrites
            (Jaccard of a condensed rewrite and its wire story: 0.12 at 3 words, 0.04 at 5).
        num_perm: MinHash permutations (signature length). 128 gives a Jaccard estimate with a
            standard error of ~0.03 near 0.1 and costs 512 bytes per document.
        seed: MinHash seed.
        encoder: sentence encoder for the document vector (see :mod:`retold.encoders`);
            ``"none"`` stores no vectors and turns the vector signal off.
        lead_chars: the document vector encodes the title and the first body sentences up to
            this many characters.
        anchor_kinds: fact kinds from :func:`retold.facts.extract_facts` used as anchor terms.
        min_word_chars: content words shorter than this are not indexed as terms.
        lsh_threshold: Jaccard threshold the in-memory MinHash-LSH is tuned for (datasketch picks
            bands and rows from it). Low, because rewrites share few exact shingles.
        max_df_share, min_max_df, max_df_cap: a term is *rare*, and looked up, when its document
            frequency is at most ``min(max_df_cap, max(min_max_df, max_df_share * documents))``.
        anchor_weight: weight of a fact anchor relative to a rare content word.
        anchor_pool: how many documents the anchor signal contributes before re-ranking.
        vector_pool: how many nearest neighbours the vector signal contributes.
        min_cosine: vector neighbours below this cosine are ignored; it is the zero of the
            rescaled vector signal.
        w_shingles, w_anchors, w_vector: weights of the three signals in the final score.
        min_score: candidates scoring below this are dropped.
        window_chars: a document longer than 1.5 times this is also searched window by window
            (paragraph-aligned parts of about this many characters), and each candidate keeps its
            best score: a long article built from small passages of several sources shares too
            little with each as a whole. 0 turns it off. Measured on 240 PAN 2013 pairs among
            1,000 BBC articles (recall of the true source in the top 10): 0.779 without windows,
            0.858 with 2,000-character windows (random obfuscation 0.633 → 0.833).

    Example:
        >>> RetrieveSettings(shingle_size=4).shingle_size
        4
    """

    shingle_size: int = 3
    num_perm: int = 128
    seed: int = 1
    encoder: str = "use-m3"
    lead_chars: int = 300
    anchor_kinds: tuple[str, ...] = ("number", "identifier", "quote", "person", "org", "place", "name")
    min_word_chars: int = 4

    lsh_threshold: float = 0.1
    max_df_share: float = 0.01
    min_max_df: int = 5
    max_df_cap: int = 1000
    anchor_weight: float = 2.0
    anchor_pool: int = 50
    vector_pool: int = 50
    min_cosine: float = 0.3
    w_shingles: float = 0.4
    w_anchors: float = 0.4
    w_vector: float = 0.2
    min_score: float = 0.02
    window_chars: int = 2000

    def __post_init__(self) -> None:
        for name in ("shingle_size", "num_perm", "lead_chars", "anchor_pool", "vector_pool", "min_max_df",
                     "max_df_cap"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"retrieve.{name} must be a positive integer, got {value!r}")
        for name in ("lsh_threshold", "max_df_share", "min_cosine", "min_score"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ConfigError(f"retrieve.{name} must lie in [0, 1), got {value!r}")
        if not isinstance(self.window_chars, int) or self.window_chars < 0:
            raise ConfigError(f"retrieve.window_chars must be a non-negative integer, got {self.window_chars!r}")
        if self.lsh_threshold <= 0.0:
            raise ConfigError("retrieve.lsh_threshold must be above 0")
        unknown = set(self.anchor_kinds) - set(_ANCHOR_PREFIX)
        if unknown:
            raise ConfigError(f"retrieve.anchor_kinds: unknown kind(s) {sorted(unknown)}; known: {sorted(_ANCHOR_PREFIX)}")
        if min(self.w_shingles, self.w_anchors, self.w_vector, self.anchor_weight) < 0:
            raise ConfigError("retrieve weights must not be negative")

    def max_df_for(self, documents: int) -> int:
        """The largest document frequency of a term that counts as rare in a store this size."""
        return min(self.max_df_cap, max(self.min_max_df, int(self.max_df_share * documents)))

    def stored(self) -> dict[str, Any]:
        """The feature settings a store records, as JSON-ready values."""
        values = {name: getattr(self, name) for name in FEATURE_FIELDS}
        values["anchor_kinds"] = list(values["anchor_kinds"])
        values["minhash_scheme"] = MINHASH_SCHEME
        return values

    @classmethod
    def from_stored(cls, stored: dict[str, Any], base: RetrieveSettings | None = None) -> RetrieveSettings:
        """``base`` (or the defaults) with the feature settings a store recorded."""
        values = {name: stored[name] for name in FEATURE_FIELDS if name in stored}
        if "anchor_kinds" in values:
            values["anchor_kinds"] = tuple(values["anchor_kinds"])
        return replace(base or cls(), **values)


FEATURE_FIELDS = ("shingle_size", "num_perm", "seed", "encoder", "lead_chars", "anchor_kinds", "min_word_chars")
"""The :class:`RetrieveSettings` fields a store records and must be opened with."""


@dataclass(frozen=True)
class DocumentFeatures:
    """What the store keeps about one document besides its text.

    Attributes:
        content_hash: SHA-256 (hex) of the normalised text; unique in a store.
        segmentation: paragraphs and sentences (see :func:`retold.segment.segment`).
        shingle_count: distinct word shingles (0 for texts shorter than a shingle).
        minhash: the MinHash signature, ``num_perm`` uint32 values.
        terms: distinct anchor terms and content words, with their kind prefix.
        lead: the text the document vector encodes.
        embedding: the document vector (float32, L2-normalised) or ``None`` without an encoder.
    """

    content_hash: str
    segmentation: Segmentation
    shingle_count: int
    minhash: np.ndarray
    terms: tuple[str, ...]
    lead: str
    embedding: np.ndarray | None = None


@dataclass(frozen=True)
class Candidate:
    """One candidate source (or derivative) of a document.

    Attributes:
        doc_id: the candidate's id in the store.
        score: combined score (0..1), the ranking key.
        signals: the value of each signal: ``shingles`` (estimated containment of the shorter
            text's shingles in the other's), ``jaccard`` (estimated shingle Jaccard), ``anchors``
            (share of the query's rare-term weight shared) and ``vector`` (cosine of the lead
            embeddings); a signal that did not fire is 0.
        anchors: the shared rare terms, heaviest first (at most 10), e.g. ``"name:tomas varga"``.
        found_by: which signals proposed it (``"lsh"``, ``"anchors"``, ``"vector"``).
    """

    doc_id: str
    score: float
    signals: dict[str, float]
    anchors: tuple[str, ...] = ()
    found_by: tuple[str, ...] = ()
    key: int = field(default=-1, repr=False, compare=False)


def content_hash(text: str) -> str:
    """SHA-256 (hex) of the normalised text: the identity of a document's content in a store."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_SPACE_RE = re.compile(r"\s+")


def _anchor_terms(text: str, settings: RetrieveSettings) -> set[str]:
    from .facts import FactSettings, extract_facts

    kinds = tuple(k for k in settings.anchor_kinds)
    found: set[str] = set()
    for fact in extract_facts(text, FactSettings(kinds=kinds)):
        prefix = _ANCHOR_PREFIX[fact.kind]
        if fact.kind == "number":
            number = fact.detail.get("number") or fact.value
            if len(number.replace(".", "")) < 2:  # "2 years", "one" : never rare
                continue
            unit = "%" if fact.detail.get("unit") in ("%", "percent", "per cent") else ""
            found.add(f"{prefix}{number}{unit}")
        elif fact.kind == "quote":
            from .features import words

            quote_words = words(fact.value)
            if len(quote_words) >= 3:
                found.add(prefix + " ".join(quote_words[:_QUOTE_WORDS]))
        else:
            value = _SPACE_RE.sub(" ", fact.value.strip().lower())
            if len(value) >= 3:
                found.add(prefix + value)
    return found


def _lead(document: Document, segmentation: Segmentation, max_chars: int) -> str:
    parts: list[str] = []
    title = (document.title or "").strip()
    if not title:
        heading = next((s for s in segmentation.sentences if s.role == "heading"), None)
        title = heading.span.slice(document.text).strip() if heading else ""
    if title:
        parts.append(title)
    length = len(title)
    for sentence in segmentation.body_sentences():
        if length >= max_chars:
            break
        text = " ".join(sentence.span.slice(document.text).split())
        parts.append(text)
        length += len(text) + 1
    return " ".join(parts)[:max_chars]


_FMIX32 = tuple(np.uint32(v) for v in (16, 0x85EBCA6B, 13, 0xC2B2AE35, 16))
_PERMUTATIONS: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _minhash(shingle_set: set[tuple[str, ...]], num_perm: int, seed: int) -> np.ndarray:
    """The MinHash signature datasketch's ``MinHash(num_perm, seed, scheme="affine32")`` gives.

    Same steps in numpy: the first 4 bytes of each shingle's SHA-1 (little-endian, datasketch's
    ``sha1_hash32``), the MurmurHash3 32-bit finalizer, then ``a * h + b`` mod 2^32 for each
    permutation, whose ``a`` and ``b`` are drawn from ``RandomState(seed)`` as datasketch draws them.
    The permutations are drawn once per ``(num_perm, seed)`` instead of once per document, and
    importing datasketch (which imports scipy, ~0.9 s) is left to the LSH.
    ``tests/test_index.py`` checks the signatures against datasketch's.
    """
    permutations = _PERMUTATIONS.get((num_perm, seed))
    if permutations is None:
        generator = np.random.RandomState(seed)
        a = generator.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
        b = generator.randint(0, 1 << 32, num_perm, dtype=np.uint32)
        permutations = _PERMUTATIONS[(num_perm, seed)] = (a, b)
    if not shingle_set:
        return np.full(num_perm, 0xFFFFFFFF, dtype=np.uint32)
    sha1 = hashlib.sha1
    digests = b"".join([sha1(" ".join(s).encode("utf-8")).digest()[:4] for s in shingle_set])
    hashes = np.frombuffer(digests, dtype="<u4").astype(np.uint32).reshape(-1, 1)
    s1, m1, s2, m2, s3 = _FMIX32
    hashes = hashes ^ (hashes >> s1)
    hashes = hashes * m1
    hashes = hashes ^ (hashes >> s2)
    hashes = hashes * m2
    hashes = hashes ^ (hashes >> s3)
    a, b = permutations
    return np.asarray((hashes * a + b).min(axis=0), dtype=np.uint32)


def document_features(document: Document, settings: RetrieveSettings, embed: bool = True) -> DocumentFeatures:
    """Compute the stored features of one document (pure; used by indexing and queries alike).

    Args:
        document: the article.
        settings: the feature settings (only :data:`FEATURE_FIELDS` matter here).
        embed: also encode the lead (one encoder call per document; :func:`features_batch`
            encodes many leads in one call instead).

    Example:
        >>> f = document_features(Document.from_text("Port reopens. Ships came in on Monday."),
        ...                       RetrieveSettings(encoder="none"))
        >>> f.minhash.shape, "w:ships" in f.terms
        ((128,), True)
    """
    from .features import content_terms, shingles, words
    from .segment import segment

    segmentation = segment(document)
    tokens = words(document.text)
    shingle_set = shingles(tokens, settings.shingle_size)
    minhash = _minhash(shingle_set, settings.num_perm, settings.seed)
    terms = _anchor_terms(document.text, settings)
    terms.update(
        _WORD_PREFIX + t
        for t in content_terms(document.text)
        if len(t) >= settings.min_word_chars and not t[:1].isdigit()
    )
    lead = _lead(document, segmentation, settings.lead_chars)
    features = DocumentFeatures(
        content_hash=content_hash(document.text),
        segmentation=segmentation,
        shingle_count=len(shingle_set),
        minhash=minhash,
        terms=tuple(sorted(terms)),
        lead=lead,
    )
    if embed:
        return _with_embeddings([features], settings)[0]
    return features


def _with_embeddings(batch: list[DocumentFeatures], settings: RetrieveSettings) -> list[DocumentFeatures]:

    from .encoders import get_encoder

    encoder = get_encoder(settings.encoder)
    if encoder is None or not batch:
        return batch
    # Leads are unique per document: the process-wide sentence cache would only grow (2 KB per
    # lead, 200 MB per indexing worker at 100k documents), so they go to the model directly.
    encoder = getattr(encoder, "inner", encoder)
    vectors = encoder.encode([f.lead or " " for f in batch]).astype(np.float32)
    return [replace(f, embedding=v) for f, v in zip(batch, vectors)]


def features_batch(documents: Sequence[Document], settings: RetrieveSettings) -> list[DocumentFeatures]:
    """:func:`document_features` for many documents, with one encoder call for all leads."""
    batch = [document_features(d, settings, embed=False) for d in documents]
    return _with_embeddings(batch, settings)


# --- querying ---------------------------------------------------------------------------------------


def _containment(jaccard: float, count_a: int, count_b: int) -> float:
    """Share of the smaller shingle set inside the larger one, from their Jaccard and sizes."""
    smaller = min(count_a, count_b)
    if smaller <= 0 or jaccard <= 0.0:
        return 0.0
    intersection = jaccard * (count_a + count_b) / (1.0 + jaccard)
    return float(min(1.0, intersection / smaller))


def anchor_pool(shared: dict[int, float], size: int) -> list[int]:
    """The ``size`` documents sharing the most rare-term weight, ties to the lower key.

    Both engines pick the anchor signal's pool with this order (the Spark engine as a window
    ordered by ``shared`` descending, then key), so a tie at the pool's edge is broken the same way.

    Example:
        >>> anchor_pool({7: 1.5, 3: 2.0, 5: 1.5, 9: 0.2}, 3)
        [3, 5, 7]
    """
    if len(shared) <= size:
        return sorted(shared, key=lambda key: (-shared[key], key))
    keys = np.fromiter(shared, dtype=np.int64, count=len(shared))
    weights = np.fromiter(shared.values(), dtype=np.float64, count=len(shared))
    return [int(k) for k in keys[np.lexsort((keys, -weights))[:size]]]


def score_candidate(
    query_minhash: np.ndarray,
    query_shingles: int,
    minhash: np.ndarray | None,
    shingles: int,
    shared_weight: float,
    total_weight: float,
    query_vector: np.ndarray | None,
    vector: np.ndarray | None,
    settings: RetrieveSettings,
) -> tuple[float, dict[str, float]]:
    """The re-ranking score of one candidate and its signals (pure; both engines call it).

    Args:
        query_minhash, query_shingles: the query's MinHash signature and distinct shingle count.
        minhash, shingles: the candidate's (``None`` / 0 when it has no shingles).
        shared_weight: rare-term weight the two share; total_weight: the query's rare-term
            weight (0 is read as 1).
        query_vector, vector: the two lead embeddings, or ``None`` (no vector signal).
        settings: the weights and ``min_cosine``.

    Returns:
        ``(score, signals)``: the unrounded score ``w_shingles * shingles + w_anchors * anchors +
        w_vector * rescaled cosine`` and the signals (``shingles``, ``jaccard``, ``anchors``,
        ``vector``) rounded to 4 places, as :attr:`Candidate.signals` holds them.
    """
    if minhash is not None and shingles:
        jaccard = float(np.mean(minhash == query_minhash))
    else:
        jaccard = 0.0
    containment = _containment(jaccard, query_shingles, shingles)
    anchors = min(1.0, (shared_weight or 0.0) / (total_weight or 1.0))
    if vector is not None and query_vector is not None:
        cosine = float(np.dot(vector, query_vector))
    else:
        cosine = 0.0
    vector_score = max(0.0, (cosine - settings.min_cosine) / (1.0 - settings.min_cosine))
    score = settings.w_shingles * containment + settings.w_anchors * anchors + settings.w_vector * vector_score
    signals = {"shingles": round(containment, 4), "jaccard": round(jaccard, 4), "anchors": round(anchors, 4),
               "vector": round(cosine, 4)}
    return score, signals


def _windows(text: str, size: int) -> list[str]:
    """``text`` cut at line breaks into parts of about ``size`` characters (a longer line is one part)."""
    parts: list[str] = []
    current: list[str] = []
    length = 0
    for line in text.splitlines(keepends=True):
        if current and length + len(line) > size:
            parts.append("".join(current))
            current, length = [], 0
        current.append(line)
        length += len(line)
    if "".join(current).strip():
        parts.append("".join(current))
    return [part for part in parts if part.strip()]


def _rare_weights(index: Index, features: DocumentFeatures, exclude: int | None, n_docs: int,
                  settings: RetrieveSettings) -> tuple[dict[int, tuple[str, float]], float]:
    """``{term_id: (term, idf weight)}`` of the document's rare terms, and their total weight."""
    stats = index.term_stats(features.terms)
    max_df = settings.max_df_for(n_docs)
    weights: dict[int, tuple[str, float]] = {}
    for term, (term_id, df) in stats.items():
        df_others = df - (1 if exclude is not None else 0)
        if 1 <= df_others <= max_df:
            idf = math.log((n_docs + 1) / df_others)
            weight = idf * (1.0 if term.startswith(_WORD_PREFIX) else settings.anchor_weight)
            weights[term_id] = (term, weight)
    return weights, sum(w for _, w in weights.values()) or 1.0


def score_stored_pair(index: Index, features: DocumentFeatures, key: int,
                      settings: RetrieveSettings | None = None) -> tuple[float, dict[str, float]]:
    """The retrieval score and signals :func:`candidates` gives the stored document ``key`` as a
    candidate of a document with ``features``, without searching the store for candidates.

    Returns:
        ``(score, signals)`` rounded as :attr:`Candidate.score` and :attr:`Candidate.signals`.
    """
    settings = index.check_settings(settings)
    exclude = index.key_of_hash(features.content_hash)
    weights, total_weight = _rare_weights(index, features, exclude, max(1, index.count()), settings)
    other = index.stored_features([key])[key]
    other_terms = set(other.terms)
    shared = sum(weight for term, weight in weights.values() if term in other_terms)
    score, signals = score_candidate(
        features.minhash, features.shingle_count, other.minhash, other.shingle_count, shared, total_weight,
        features.embedding, other.embedding, settings,
    )
    return round(score, 4), signals


def candidates(
    index: Index,
    document: Document,
    limit: int = 20,
    settings: RetrieveSettings | None = None,
    features: DocumentFeatures | None = None,
    neighbours: Sequence[tuple[int, float]] | None = None,
    windows: bool = True,
) -> list[Candidate]:
    """Candidate sources (or derivatives) of ``document`` among the documents of ``index``.

    The document itself, when it is in the store (same content hash), is never a candidate.

    Args:
        index: an open store.
        document: the article to find relatives of; it need not be in the store.
        limit: how many candidates to return at most.
        settings: query settings; the feature settings must match the store's
            (defaults to ``index.settings``).
        features: the document's features, when already computed.
        neighbours: the vector signal's ``index.query_vectors(features.embedding, vector_pool + 1)``,
            when already searched (a scan searches many documents in one batch).
        windows: also search a long document window by window (see
            :attr:`RetrieveSettings.window_chars`); a candidate then keeps its best score, from
            the whole document or from one window. ``scan`` searches whole documents only (both
            engines find the same pairs).

    Returns:
        Candidates, best first.

    Raises:
        StoreError: ``settings`` disagree with the feature settings the store was built with.

    Example:
        >>> [c.doc_id for c in candidates(index, load("rewrite.txt"), limit=3)]  # doctest: +SKIP
        ['wire-42', 'bbc/business/017', 'bbc/politics/101']
    """
    settings = index.check_settings(settings)
    started = time.perf_counter()
    features = features or document_features(document, settings)
    exclude = index.key_of_hash(features.content_hash)
    n_docs = max(1, index.count())

    found_by: dict[int, set[str]] = defaultdict(set)

    # 1. MinHash-LSH buckets.
    if features.shingle_count:
        for key in index.query_lsh(features.minhash):
            found_by[key].add("lsh")

    # 2. Shared rare terms.
    weights, total_weight = _rare_weights(index, features, exclude, n_docs, settings)
    postings = np.asarray(index.postings(list(weights)), dtype=np.int64).reshape(-1, 2)
    postings = postings[postings[:, 1] != (-1 if exclude is None else exclude)]
    term_order = np.fromiter(weights, dtype=np.int64, count=len(weights))
    term_weight = np.fromiter((w for _, w in weights.values()), dtype=np.float64, count=len(weights))
    sorter = np.argsort(term_order)
    posting_weight = term_weight[sorter[np.searchsorted(term_order, postings[:, 0], sorter=sorter)]]
    holders, where = np.unique(postings[:, 1], return_inverse=True)
    sums = np.bincount(where, weights=posting_weight, minlength=len(holders))
    shared: dict[int, float] = dict(zip(holders.tolist(), sums.tolist()))
    for key in anchor_pool(shared, settings.anchor_pool):
        found_by[key].add("anchors")

    # 3. Nearest lead vectors.
    cosines: dict[int, float] = {}
    if features.embedding is not None:
        if neighbours is None:
            neighbours = index.query_vectors(features.embedding, settings.vector_pool + 1)
        for key, cosine in neighbours:
            if key != exclude and cosine >= settings.min_cosine:
                cosines[key] = cosine
                found_by[key].add("vector")

    found_by.pop(exclude, None)  # type: ignore[arg-type]
    if not found_by:
        return []

    # Re-rank the union with every signal computed for every candidate.
    keys = list(found_by)
    signatures = index.signatures(keys)
    vectors = index.embeddings(keys) if features.embedding is not None else {}
    ids = index.doc_ids(keys)
    shared_terms: dict[int, list[tuple[float, str]]] = defaultdict(list)  # the anchors each candidate shares
    for term_id, key in postings[np.isin(postings[:, 1], keys)].tolist():
        term, weight = weights[term_id]
        if not term.startswith(_WORD_PREFIX):
            shared_terms[key].append((weight, term))
    ranked: list[Candidate] = []
    for key in keys:
        signature, count = signatures.get(key, (None, 0))
        score, signals = score_candidate(
            features.minhash, features.shingle_count, signature, count, shared.get(key, 0.0), total_weight,
            features.embedding, vectors.get(key), settings,
        )
        if score < settings.min_score:
            continue
        ranked.append(
            Candidate(
                doc_id=ids[key],
                score=round(score, 4),
                signals=signals,
                anchors=tuple(t for _, t in sorted(shared_terms.get(key, []), reverse=True)[:10]),
                found_by=tuple(s for s in ("lsh", "anchors", "vector") if s in found_by[key]),
                key=key,
            )
        )
    if windows and settings.window_chars and len(document.text) > 1.5 * settings.window_chars:
        best = {c.key: c for c in ranked}
        whole = replace(settings, window_chars=0)
        for number, part in enumerate(_windows(document.text, settings.window_chars)):
            window = Document(text=part, id=f"{document.id}#window{number}", name=document.name)
            for found in candidates(index, window, limit=limit, settings=whole, windows=False):
                if found.key != exclude and (found.key not in best or found.score > best[found.key].score):
                    best[found.key] = found
        ranked = list(best.values())
    ranked.sort(key=lambda c: (-c.score, c.doc_id))
    logger.debug(
        "candidates for %s: %d proposed, %d kept, %.1f ms",
        document.name, len(keys), len(ranked), (time.perf_counter() - started) * 1000,
    )
    return ranked[:limit]
