"""Plain-text passage detection with PAN-style output: one contiguous span per side.

Used by ``retold eval pan`` (PAN 2013 text alignment). The method follows Sanchez-Perez, Sidorov
and Gelbukh (PAN 2014, "A winning approach to text alignment for text reuse detection at PAN
2014"), with two additions of ours (edge trimming and a whole-document summary pass). Every step is
a pure function below; :func:`detect_passages` chains them:

1. **Sentences.** :func:`plain_sentences` splits each text (blingfire); sentences with fewer than
   ``min_sentence_terms`` content words are joined to the next one.
2. **Seeds.** A (suspicious sentence, source sentence) pair is a seed when the cosine of their
   tf-isf vectors reaches ``seed_cosine`` and the Dice coefficient of their content-word sets
   reaches ``seed_dice`` (:func:`find_seeds`).
3. **Extension.** :func:`cluster_seeds` splits the seeds alternately along the suspicious and the
   source text wherever two neighbours are more than ``max_gap_sentences`` apart, until no split
   changes anything. A cluster is kept when the cosine of its two fragments (the sums of their
   sentence vectors) reaches ``validation_cosine``; otherwise its seeds are clustered again with a
   gap one smaller (:func:`extend`).
4. **Edge trimming.** A seed at the edge of a cluster (first or last on either side) that is much
   weaker than the cluster's median seed (``trim_ratio``) is dropped: a host-document sentence next
   to a copied passage that happens to share a few words with it otherwise stretches the passage.
5. **Filtering.** Passages overlapping on the suspicious side keep only the one with the better
   fragment cosine; passages shorter than ``min_passage_chars`` on either side, or a lone seed
   shorter than ``min_single_seed_chars``, are dropped (:func:`filter_passages`).
6. **Summaries.** When nothing verbatim-like was found (no passage, or only passages whose source
   side is ``summary_length_ratio`` times longer than the suspicious side), the suspicious text is
   scanned for the window of ``summary_window_chars`` characters whose tf-isf vector is closest to
   the *whole* source document; at ``summary_cosine`` or more, that window is reported against the
   whole source text (:func:`detect_summary`). A summary condenses its whole source, which is how
   PAN 2013 annotates summary obfuscation.

The texts are used exactly as given, without normalisation, because PAN offsets count characters
of the files as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .encoders import DEFAULT_ENCODER, Encoder
from .features import content_terms, tfisf_matrices
from .model import Span

__all__ = [
    "PassageSettings",
    "cluster_seeds",
    "detect_passages",
    "detect_summary",
    "extend",
    "filter_passages",
    "find_seeds",
    "plain_sentences",
]


@dataclass(frozen=True)
class PassageSettings:
    """Settings of :func:`detect_passages` (PAN-style plain-text alignment).

    The defaults were chosen by two-fold cross-validation on the PAN 2013 training corpus
    (``bench/tune_pan.py``; see docs/accuracy.md).

    Attributes:
        seed_cosine, seed_dice: a sentence pair is a seed when both reach these (lexical only).
        seed_relative: a seed must also reach this share of the best similarity of its suspicious
            sentence or of its source sentence, whichever is lower (drops weak side links).
        min_sentence_terms: sentences with fewer content words are joined to the next one.
        max_sentence_chars: longer sentences are cut at their line breaks.
        max_gap_sentences: seeds this close (in both texts) extend one passage.
        validation_cosine: a passage's two fragments must have this tf-isf cosine, or its seeds
            are clustered again with a smaller gap.
        trim_ratio: an edge seed weaker than this share of the passage's median seed is dropped.
        min_passage_chars: shorter passages are dropped on either side.
        min_single_seed_chars: a passage made of one seed needs this many characters on both sides.
        chain: keep only the heaviest in-order chain of seeds of each cluster.
        summary: run the summary pass (step 6 of the module docstring).
        summary_cosine: the window-to-document cosine a summary needs.
        summary_window_chars: the length of the suspicious window the summary pass looks for.
        summary_length_ratio: passages whose source side is this many times longer than their
            suspicious side do not stop the summary pass.
        use_semantic: also seed on sentence embeddings (slower).
        semantic_seed: the embedding cosine a semantic seed needs.
        encoder: sentence encoder name used when ``use_semantic`` is on.
    """

    seed_cosine: float = 0.33
    seed_dice: float = 0.33
    seed_relative: float = 0.0
    min_sentence_terms: int = 0
    max_sentence_chars: int = 0
    max_gap_sentences: int = 4
    validation_cosine: float = 0.34
    trim_ratio: float = 0.0
    min_passage_chars: int = 150
    min_single_seed_chars: int = 0
    chain: bool = False
    summary: bool = True
    summary_cosine: float = 0.28
    summary_window_chars: int = 620
    summary_length_ratio: float = 3.0
    use_semantic: bool = False
    semantic_seed: float = 0.75
    encoder: str = DEFAULT_ENCODER


_SENTENCE_MIN_CHARS = 3

Seed = tuple[int, int]
"""(suspicious sentence index, source sentence index)."""


@dataclass(frozen=True)
class _Side:
    """One text cut into sentences: spans, content terms and L2-normalised tf-isf rows."""

    spans: list[Span]
    terms: list[frozenset[str]]
    vectors: sparse.csr_matrix


def plain_sentences(text: str, min_terms: int = 0, max_chars: int = 0) -> list[Span]:
    """Sentence spans of a plain text, offsets exactly into ``text``.

    Args:
        text: the text as read (no normalisation). Newlines do not end sentences (hard-wrapped
            lines are common), except inside over-long sentences.
        min_terms: a sentence with fewer content words is joined to the next one.
        max_chars: a sentence longer than this is cut at its line breaks (lists and headings
            without final punctuation otherwise run together into one "sentence"); 0 = never.
    """
    import blingfire

    flat = text.replace("\n", " ").replace("\r", " ")
    _, offsets = blingfire.text_to_sentences_and_offsets(flat)
    pieces: list[tuple[int, int]] = []
    for start, end in offsets:
        if max_chars and end - start > max_chars:
            cut = start
            for i in range(start, end):
                if text[i] == "\n" and i - cut >= _SENTENCE_MIN_CHARS:
                    pieces.append((cut, i))
                    cut = i + 1
            pieces.append((cut, end))
        else:
            pieces.append((start, end))
    spans: list[Span] = []
    pending: int | None = None
    for start, end in pieces:
        while start < end and text[start].isspace():
            start += 1
        if end - start < _SENTENCE_MIN_CHARS:
            continue
        if pending is not None:
            start, pending = pending, None
        if min_terms and len(content_terms(text[start:end])) < min_terms:
            pending = start
            continue
        spans.append(Span(start, end))
    if pending is not None:
        if spans:
            spans[-1] = Span(spans[-1].start, len(text.rstrip()) or len(text))
        else:
            spans.append(Span(pending, len(text)))
    return spans


def _sides(suspicious: str, source: str, settings: PassageSettings) -> tuple[_Side, _Side]:
    s_spans = plain_sentences(suspicious, settings.min_sentence_terms, settings.max_sentence_chars)
    r_spans = plain_sentences(source, settings.min_sentence_terms, settings.max_sentence_chars)
    s_terms = [content_terms(sp.slice(suspicious)) for sp in s_spans]
    r_terms = [content_terms(sp.slice(source)) for sp in r_spans]
    s_vectors, r_vectors = tfisf_matrices(s_terms, r_terms)
    return (
        _Side(s_spans, [frozenset(t) for t in s_terms], s_vectors),
        _Side(r_spans, [frozenset(t) for t in r_terms], r_vectors),
    )


def find_seeds(
    similarity: np.ndarray,
    suspicious_terms: list[frozenset[str]],
    source_terms: list[frozenset[str]],
    settings: PassageSettings,
) -> list[Seed]:
    """Sentence pairs whose cosine reaches ``seed_cosine`` and whose Dice reaches ``seed_dice``."""
    rows, cols = np.nonzero(similarity >= settings.seed_cosine)
    if settings.seed_relative > 0 and len(rows):
        floor = settings.seed_relative * np.minimum(
            similarity.max(axis=1)[:, None], similarity.max(axis=0)[None, :]
        )
        keep = similarity[rows, cols] >= floor[rows, cols]
        rows, cols = rows[keep], cols[keep]
    seeds = []
    for d, s in zip(rows.tolist(), cols.tolist()):
        a, b = suspicious_terms[d], source_terms[s]
        if a and b and 2.0 * len(a & b) >= settings.seed_dice * (len(a) + len(b)):
            seeds.append((d, s))
    return seeds


def _split(seeds: list[Seed], axis: int, gap: int) -> list[list[Seed]]:
    ordered = sorted(seeds, key=lambda seed: (seed[axis], seed[1 - axis]))
    groups = [[ordered[0]]]
    for seed in ordered[1:]:
        if seed[axis] - groups[-1][-1][axis] > gap:
            groups.append([seed])
        else:
            groups[-1].append(seed)
    return groups


def cluster_seeds(seeds: list[Seed], gap: int) -> list[list[Seed]]:
    """Split seeds alternately along both texts where neighbours are more than ``gap`` apart.

    A cluster is final when splitting it along either text leaves it whole.
    """
    if not seeds:
        return []
    done: list[list[Seed]] = []
    stack: list[tuple[list[Seed], int, bool]] = [(seeds, 0, False)]
    while stack:
        group, axis, other_was_whole = stack.pop()
        parts = _split(group, axis, gap)
        if len(parts) == 1:
            if other_was_whole:
                done.append(parts[0])
            else:
                stack.append((parts[0], 1 - axis, True))
        else:
            stack.extend((part, 1 - axis, False) for part in parts)
    return done


def _bounds(cluster: list[Seed]) -> tuple[int, int, int, int]:
    ds = [d for d, _ in cluster]
    ss = [s for _, s in cluster]
    return min(ds), max(ds), min(ss), max(ss)


def _fragment_cosine(suspicious: _Side, source: _Side, bounds: tuple[int, int, int, int]) -> float:
    d_lo, d_hi, s_lo, s_hi = bounds
    a = np.asarray(suspicious.vectors[d_lo : d_hi + 1].sum(axis=0)).ravel()
    b = np.asarray(source.vectors[s_lo : s_hi + 1].sum(axis=0)).ravel()
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / norm if norm else 0.0


def _trim_edges(cluster: list[Seed], similarity: np.ndarray, ratio: float) -> list[Seed]:
    """Drop edge seeds (first/last on either side) far weaker than the cluster's median seed."""
    if ratio <= 0:
        return cluster
    seeds = list(cluster)
    while len(seeds) > 1:
        strength = {seed: float(similarity[seed]) for seed in seeds}
        floor = ratio * float(np.median(list(strength.values())))
        d_lo, d_hi, s_lo, s_hi = _bounds(seeds)
        edge = [
            seed
            for seed in seeds
            if (seed[0] in (d_lo, d_hi) or seed[1] in (s_lo, s_hi)) and strength[seed] < floor
        ]
        if not edge:
            break
        weakest = min(edge, key=lambda seed: strength[seed])
        seeds.remove(weakest)
    return seeds


def _best_chain(cluster: list[Seed], similarity: np.ndarray, gap: int) -> list[Seed]:
    """The heaviest chain of seeds in reading order on both sides (steps at most ``gap``).

    Copying keeps the order of sentences, so when one sentence matches several places of the other
    text (repeated boilerplate, a paragraph quoted twice), the chain picks the consistent ones.
    """
    if len(cluster) < 3:
        return cluster
    seeds = sorted(cluster)
    weight = [float(similarity[seed]) for seed in seeds]
    best = list(weight)
    back = [-1] * len(seeds)
    for j, (dj, sj) in enumerate(seeds):
        for i in range(j):
            di, si = seeds[i]
            if si <= sj and dj - di <= gap and sj - si <= gap and best[i] + weight[j] > best[j]:
                best[j] = best[i] + weight[j]
                back[j] = i
    j = int(np.argmax(best))
    chain = []
    while j >= 0:
        chain.append(seeds[j])
        j = back[j]
    return chain[::-1]


def extend(
    seeds: list[Seed],
    similarity: np.ndarray,
    suspicious: _Side,
    source: _Side,
    settings: PassageSettings,
) -> list[tuple[list[Seed], float]]:
    """Clusters of seeds that pass validation, each with its fragment cosine."""
    result: list[tuple[list[Seed], float]] = []
    stack = [(seeds, settings.max_gap_sentences)]
    while stack:
        group, gap = stack.pop()
        for cluster in cluster_seeds(group, gap):
            if settings.chain:
                cluster = _best_chain(cluster, similarity, gap)
            cluster = _trim_edges(cluster, similarity, settings.trim_ratio)
            quality = _fragment_cosine(suspicious, source, _bounds(cluster))
            if quality >= settings.validation_cosine:
                result.append((cluster, quality))
            elif gap > 1 and len(cluster) > 1:
                stack.append((cluster, gap - 1))
    return result


def filter_passages(
    clusters: list[tuple[list[Seed], float]],
    suspicious: _Side,
    source: _Side,
    settings: PassageSettings,
) -> list[tuple[Span, Span]]:
    """Spans of the clusters after overlap resolution and the length filters."""
    candidates = []
    for cluster, quality in clusters:
        d_lo, d_hi, s_lo, s_hi = _bounds(cluster)
        d_span = Span(suspicious.spans[d_lo].start, suspicious.spans[d_hi].end)
        r_span = Span(source.spans[s_lo].start, source.spans[s_hi].end)
        if len(d_span) < settings.min_passage_chars or len(r_span) < settings.min_passage_chars:
            continue
        if len(cluster) == 1 and min(len(d_span), len(r_span)) < settings.min_single_seed_chars:
            continue
        candidates.append((quality * np.sqrt(len(cluster)), d_span, r_span))
    candidates.sort(key=lambda c: (-c[0], c[1].start))
    kept: list[tuple[Span, Span]] = []
    for _, d_span, r_span in candidates:
        if any(d_span.start < k.end and k.start < d_span.end for k, _ in kept):
            continue
        kept.append((d_span, r_span))
    kept.sort(key=lambda p: (p[0].start, p[1].start))
    return kept


def detect_summary(
    suspicious: _Side, source: _Side, source_length: int, settings: PassageSettings
) -> tuple[Span, Span] | None:
    """The suspicious window closest to the whole source document, if close enough.

    The window is a run of whole sentences about ``summary_window_chars`` long; it is reported
    against the whole source text, ``Span(0, source_length)``.
    """
    if not suspicious.spans or not source.spans:
        return None
    document = np.asarray(source.vectors.sum(axis=0)).ravel()
    norm = float(np.linalg.norm(document))
    if not norm:
        return None
    document /= norm
    # each sentence's projection on the document and its own vector, to score windows cheaply
    rows = suspicious.vectors
    gram = (rows @ rows.T).toarray()
    along = np.asarray(rows @ document).ravel()
    spans = suspicious.spans
    target = settings.summary_window_chars
    best: tuple[float, int, int] | None = None
    hi = 0
    for lo in range(len(spans)):
        hi = max(hi, lo)
        while hi + 1 < len(spans) and spans[hi].end - spans[lo].start < target:
            hi += 1
        length = spans[hi].end - spans[lo].start
        if length < 0.6 * target:
            if hi + 1 >= len(spans):
                break
            continue
        squared = float(gram[lo : hi + 1, lo : hi + 1].sum())
        if squared <= 0:
            continue
        cosine = float(along[lo : hi + 1].sum()) / float(np.sqrt(squared))
        if best is None or cosine > best[0]:
            best = (cosine, lo, hi)
    if best is None or best[0] < settings.summary_cosine:
        return None
    _, lo, hi = best
    return Span(spans[lo].start, spans[hi].end), Span(0, source_length)


def detect_passages(
    suspicious: str, source: str, settings: PassageSettings | None = None, encoder: Encoder | None = None
) -> list[tuple[Span, Span]]:
    """Reused passages between two plain texts, as (suspicious span, source span) pairs.

    Offsets refer to the texts exactly as given (no normalisation), as PAN requires.

    Args:
        suspicious: the text that may reuse passages.
        source: the text they may come from.
        settings: thresholds (see :class:`PassageSettings`).
        encoder: a sentence encoder, used only with ``settings.use_semantic``.

    Returns:
        ``(suspicious span, source span)`` per passage, sorted by suspicious offset; the
        suspicious spans do not overlap.

    Example::

        for this, src in detect_passages(suspicious_text, source_text):
            print(this.slice(suspicious_text), "<-", src.slice(source_text))
    """
    settings = settings or PassageSettings()
    susp_side, src_side = _sides(suspicious, source, settings)
    if not susp_side.spans or not src_side.spans:
        return []
    similarity = np.asarray((susp_side.vectors @ src_side.vectors.T).toarray(), dtype=np.float32)
    seeds = find_seeds(similarity, susp_side.terms, src_side.terms, settings)
    if encoder is not None and settings.use_semantic:
        vectors = encoder.encode([sp.slice(suspicious) for sp in susp_side.spans] + [sp.slice(source) for sp in src_side.spans])
        n = len(susp_side.spans)
        semantic = vectors[:n] @ vectors[n:].T
        rows, cols = np.nonzero(semantic >= settings.semantic_seed)
        seeds = sorted(set(seeds) | set(zip(rows.tolist(), cols.tolist())))
    clusters = extend(seeds, similarity, susp_side, src_side, settings)
    passages = filter_passages(clusters, susp_side, src_side, settings)
    if settings.summary:
        verbatim = [
            (d, r) for d, r in passages if len(r) < settings.summary_length_ratio * len(d)
        ]
        if not verbatim:
            summary = detect_summary(susp_side, src_side, len(source), settings)
            if summary is not None:
                return [summary]
    return passages
