"""Plain-text passage detection with PAN-style output: one contiguous span per side.

Used by ``retold eval pan`` (PAN 2013 text alignment). The method follows Sanchez-Perez, Sidorov
and Gelbukh (PAN 2014, "A winning approach to text alignment for text reuse detection at PAN
2014"), with additions of ours (a learned cluster validator, edge trimming and widening, a word-level
pass for literal copies and a whole-document summary pass). Every step is
a pure function below; :func:`detect_passages` chains them:

1. **Sentences.** :func:`plain_sentences` splits each text (blingfire); sentences with fewer than
   ``min_sentence_terms`` content words are joined to the next one.
2. **Seeds.** A (suspicious sentence, source sentence) pair is a seed when the cosine of their
   tf-isf vectors reaches ``seed_cosine`` and the Dice coefficient of their content-word sets
   reaches ``seed_dice`` (:func:`find_seeds`).
   More seeds come from words rather than sentences (:func:`find_band_seeds`): content terms
   that are rare in both texts and shared by them give points (position in one, position in the
   other); where many points crowd one stretch of one diagonal, the sentence pairs under them are
   seeds. Randomly obfuscated passages, cut into tiny "sentences" and shuffled, keep their words.
3. **Extension.** :func:`cluster_seeds` splits the seeds alternately along the suspicious and the
   source text wherever two neighbours are more than ``max_gap_sentences`` apart, until no split
   changes anything. A cluster is kept when a logistic model over its features
   (:func:`cluster_features`: fragment cosine, seed strengths, sentence counts and densities,
   order, literal word overlap, ...) gives it a probability of at least ``validation_probability``
   of lying inside a reused passage; otherwise its seeds are clustered again with a gap one smaller
   (:func:`extend`). The model is fitted on half of the PAN 2013 training pairs
   (``bench/fit_pan_validator.py``); with ``validator=""`` the rule is Sanchez-Perez's: the cosine
   of the two fragments (sums of their sentence vectors) must reach ``validation_cosine``.
4. **Edge trimming.** A seed at the edge of a cluster (first or last on either side) that is much
   weaker than the cluster's median seed (``trim_ratio``) is dropped: a host-document sentence next
   to a copied passage that happens to share a few words with it otherwise stretches the passage.
   Then a passage takes in a neighbouring sentence while that raises the fragment cosine by more
   than ``widen`` (:func:`tighten_bounds`), and the sentence pairs just before and after it on
   both sides while they are similar (:func:`extend_diagonally`: reused passages keep their
   sentence order); near-literal copies get word-level edges (:func:`refine_edges`).
5. **Filtering.** Passages overlapping on the suspicious side keep only the one with the better
   fragment cosine; a weaker passage whose source span mostly repeats a stronger one's
   (``source_overlap``: one source paragraph matched again elsewhere) keeps only its source text
   beyond it; passages shorter than ``min_passage_chars`` on either side, or a lone seed
   shorter than ``min_single_seed_chars``, are dropped (:func:`filter_passages`).
6. **Literal copies.** When passages were found, shared word 5-grams are chained along their
   diagonals into word-exact verbatim passages (:func:`literal_passages`); each replaces the
   sentence-level passages it mostly covers, or is added where there were none.
   Then each passage's first and last sentence on either side is cut word by word where the
   reuse begins or ends inside it (:func:`trim_partial_edges`): host words next to a reused
   stretch are mostly absent from the other side.
   Last, a source span whose first or last line (up to a line break) draws clearly less on the
   suspicious span than the rest of it does loses that line (:func:`cut_source_lines`): the
   paragraph after a reused one often shares its topic words, and reuse often ends at a line break.
7. **Summaries.** The suspicious text is scanned for the window of ``summary_window_chars``
   characters whose tf-isf vector is closest to the *whole* source document (:func:`detect_summary`).
   A summary condenses its whole source, which is how PAN 2013 annotates summary obfuscation, so
   the window is reported against the whole source text when it looks like one: its cosine reaches
   ``summary_cosine``, the source is at least ``summary_source_ratio`` times longer than the
   window, its sentences draw on sources spread over at least ``summary_spread`` of the source
   document (a summary condenses all of it; a copied passage comes from one place) without one
   ``summary_stretch`` of the source holding ``summary_concentration`` of those matches (that
   test only when steps 5-6 found passages to fall back on) nor one such stretch lying much
   closer to the window than the whole source does (``summary_stretch_cosine``), and every
   passage of steps 5-6 lies inside the window (give or take ``summary_margin_chars``): those are the
   summary's sentences matched one by one, and the summary replaces them (unless one cluster holds
   ``summary_max_seeds`` sentence-level seeds: a copied passage).

The texts are used exactly as given, without normalisation, because PAN offsets count characters
of the files as they are.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
from scipy import sparse

from .encoders import DEFAULT_ENCODER, Encoder
from .features import STOPWORDS, content_terms, stem, tfisf_matrices
from .model import Span
from .segment import blingfire_sentence_offsets

__all__ = [
    "VALIDATOR_FEATURES",
    "PassageSettings",
    "Validator",
    "cluster_features",
    "cluster_seeds",
    "cluster_tree",
    "cut_source_lines",
    "detect_passages",
    "detect_summary",
    "extend",
    "extend_diagonally",
    "filter_passages",
    "find_band_seeds",
    "find_seeds",
    "literal_passages",
    "load_validator",
    "pair_seeds",
    "plain_sentences",
    "quadratic_terms",
    "refine_edges",
    "tighten_bounds",
    "trim_partial_edges",
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
        source_overlap: a passage whose source span shares more than this share of the shorter
            span with a stronger passage's source keeps only its part beyond it (1 = off).
        min_single_seed_chars: a passage of one sentence on either side needs this many characters
            on both sides.
        single_sentence_cosine: ... and this fragment cosine.
        chain: keep only the heaviest in-order chain of seeds of each cluster.
        refine_ngram, refine_run, refine_min_share, refine_margin_sentences, refine_min_cosine: word-level edge
            refinement of literal copies (see :func:`refine_edges`); ``refine_ngram=0`` turns
            it off.
        refine_free_share: when shared word n-grams cover this share of the passage, refined
            edges may also drop whole sentences (a near-verbatim copy's word runs are trusted).
        tighten, widen: sentence-level edge moves before refinement (:func:`tighten_bounds`).
        band_cell, band_min_points, band_max_count, band_min_cosine: seeds from dense diagonal
            bands of shared rare content words (:func:`find_band_seeds`); ``band_min_points=0``
            turns them off.
        diagonal_cosine, diagonal_steps: a passage takes in the sentence pair just before or
            after it on both sides while the two sentences have this tf-isf cosine, up to
            ``diagonal_steps`` pairs at each end (:func:`extend_diagonally`); 0 turns it off.
        literal_ngram, literal_gap_words, literal_min_words, literal_min_share, literal_cover: the
            word-level pass for verbatim copies (:func:`literal_passages`); ``literal_ngram=0``
            turns it off. A literal passage replaces the passages it overlaps when it covers at
            least ``literal_cover`` of each.
        summary: run the summary pass (step 7 of the module docstring).
        summary_cosine: the window-to-document cosine a summary needs.
        summary_window_chars: the length of the suspicious window the summary pass looks for.
        summary_source_ratio: the source must be this many times longer than the window.
        summary_spread: the share of the source, from the first to the last source sentence that
            the window's sentences match best (at ``summary_match_cosine`` or more), must reach this.
        summary_match_cosine: the tf-isf cosine a window sentence's best source sentence needs to
            count for the spread.
        summary_margin_chars: passages ending this far outside the window still count as inside.
        summary_max_seeds: no summary is reported when a seed cluster of the pair has this many
            sentence-level seeds (:func:`find_seeds`; a long sentence-by-sentence match is a
            copied passage, not a summary); 0 = no limit.
        summary_concentration: when passages were found, no summary is reported if one stretch of
            ``summary_stretch`` of the source text holds this share of the window's best source
            matches or more (a copied passage draws on one place, a summary on its whole source);
            above 1 = no such test.
        summary_stretch: the length of that stretch, as a share of the source text.
        summary_stretch_cosine: no summary is reported when the window's tf-isf cosine to some
            run of ``summary_stretch`` of the source sentences exceeds this many times its cosine
            to the whole source (a summary is closest to its whole source, a reused passage to
            the part it came from); 0 = no such test.
        validator: name of the learned cluster validator (``retold/data/NAME.json``, fitted by
            ``bench/fit_pan_validator.py``); a cluster is kept when its probability reaches
            ``validation_probability``. Empty: the fragment-cosine rule (``validation_cosine``) of
            Sanchez-Perez et al. (``single_sentence_cosine`` applies in both cases).
        partial_edge_penalty, partial_edge_margin, partial_edge_context_chars: word-level cuts
            inside a passage's first and last sentence (:func:`trim_partial_edges`): a content word
            found in the other side's span (widened by ``partial_edge_context_chars``) counts +1,
            one not found ``-partial_edge_penalty``; the words before (after) the lowest prefix
            (suffix) sum are cut off when that sum is ``-partial_edge_margin`` or lower.
            ``partial_edge_margin=0`` turns the step off.
        line_cut_share, line_cut_max_share: a source span's first or last line (the text before
            its first or after its last line break, at most ``line_cut_max_share`` of the span) is
            cut off when the share of its content words found in the suspicious span is under
            ``line_cut_share`` times that share for the whole span (:func:`cut_source_lines`);
            ``line_cut_share=0`` turns the step off.
        use_semantic: also seed on sentence embeddings (slower).
        semantic_seed: the embedding cosine a semantic seed needs.
        encoder: sentence encoder name used when ``use_semantic`` is on.
    """

    seed_cosine: float = 0.33
    seed_dice: float = 0.33
    seed_relative: float = 0.7
    min_sentence_terms: int = 0
    max_sentence_chars: int = 300
    max_gap_sentences: int = 4
    validation_cosine: float = 0.5
    trim_ratio: float = 0.5
    min_passage_chars: int = 150
    source_overlap: float = 0.8
    min_single_seed_chars: int = 0
    single_sentence_cosine: float = 0.6
    refine_ngram: int = 3
    refine_run: int = 4
    refine_min_share: float = 0.95
    refine_margin_sentences: int = 1
    refine_min_cosine: float = 0.0
    refine_blocks: bool = True
    refine_free_share: float = 0.97
    tighten: float = 0.0
    widen: float = 0.01
    band_cell: int = 10
    band_min_points: int = 5
    band_max_count: int = 3
    band_min_cosine: float = 0.1
    diagonal_cosine: float = 0.15
    diagonal_steps: int = 3
    chain: bool = False
    summary: bool = True
    summary_cosine: float = 0.36
    summary_window_chars: int = 620
    summary_source_ratio: float = 3.5
    summary_spread: float = 0.4
    summary_match_cosine: float = 0.2
    summary_margin_chars: int = 300
    summary_max_seeds: int = 7
    summary_concentration: float = 0.8
    summary_stretch: float = 0.2
    summary_stretch_cosine: float = 1.25
    literal_ngram: int = 5
    literal_gap_words: int = 20
    literal_min_words: int = 40
    literal_min_share: float = 0.8
    literal_cover: float = 0.45
    validator: str = "pan_validator"
    validation_probability: float = 0.8
    partial_edge_penalty: float = 0.5
    partial_edge_margin: float = 2.0
    line_cut_share: float = 0.6
    line_cut_max_share: float = 0.25
    partial_edge_context_chars: int = 100
    use_semantic: bool = False
    semantic_seed: float = 0.75
    encoder: str = DEFAULT_ENCODER


_SENTENCE_MIN_CHARS = 3

Seed = tuple[int, int]
"""(suspicious sentence index, source sentence index)."""


@dataclass(frozen=True)
class _Side:
    """One text cut into sentences: spans, content terms (as sets and in order) and L2-normalised tf-isf rows."""

    text: str
    spans: list[Span]
    terms: list[frozenset[str]]
    vectors: sparse.csr_matrix
    term_lists: list[list[str]]


def plain_sentences(text: str, min_terms: int = 0, max_chars: int = 0) -> list[Span]:
    """Sentence spans of a plain text, offsets exactly into ``text``.

    Args:
        text: the text as read (no normalisation). Newlines do not end sentences (hard-wrapped
            lines are common), except inside over-long sentences.
        min_terms: a sentence with fewer content words is joined to the next one.
        max_chars: a sentence longer than this is cut at its line breaks (lists and headings
            without final punctuation otherwise run together into one "sentence"); 0 = never.
    """
    flat = text.replace("\n", " ").replace("\r", " ")
    offsets = blingfire_sentence_offsets(flat)
    if offsets is None:
        import blingfire

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
        _Side(suspicious, s_spans, [frozenset(t) for t in s_terms], s_vectors, s_terms),
        _Side(source, r_spans, [frozenset(t) for t in r_terms], r_vectors, r_terms),
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


def find_band_seeds(similarity: np.ndarray, suspicious: _Side, source: _Side, settings: PassageSettings) -> list[Seed]:
    """Sentence pairs lying under dense diagonal bands of shared rare content words.

    Random obfuscation shuffles, replaces and drops words and scatters punctuation, so the
    sentence splitter cuts such a passage into tiny "sentences" and few sentence pairs reach the
    seed thresholds even where most content words survive. Words do survive, and copying keeps
    them near one diagonal: every content term of the sentences (stemmed, no stop words, at least
    3 characters) that occurs at most ``band_max_count`` times in each text gives a point
    (i, j) of term positions. Points are binned into cells of ``band_cell`` terms along the suspicious text and along the
    diagonal ``j - i``; where a 2 x 2 block of cells holds ``band_min_points`` points or more,
    the sentence pairs of its points are seeds when their tf-isf cosine reaches
    ``band_min_cosine``. ``band_min_points=0`` turns this off.
    """
    if settings.band_min_points <= 0:
        return []
    d_ids, d_sentences = _content_word_ids(suspicious)
    r_ids, r_sentences = _content_word_ids(source)
    if not len(d_ids) or not len(r_ids):
        return []
    most = settings.band_max_count
    d_keys, d_counts = np.unique(d_ids, return_counts=True)
    r_keys, r_counts = np.unique(r_ids, return_counts=True)
    rare = np.intersect1d(d_keys[d_counts <= most], r_keys[r_counts <= most], assume_unique=True)
    d_pos = np.flatnonzero(np.isin(d_ids, rare))
    r_pos = np.flatnonzero(np.isin(r_ids, rare))
    order = np.argsort(r_ids[r_pos], kind="stable")
    r_sorted, r_pos = r_ids[r_pos][order], r_pos[order]
    lo = np.searchsorted(r_sorted, d_ids[d_pos], side="left")
    hi = np.searchsorted(r_sorted, d_ids[d_pos], side="right")
    i_parts, j_parts = [], []
    for k in range(most):  # each rare word occurs at most ``most`` times in the source
        has = lo + k < hi
        i_parts.append(d_pos[has])
        j_parts.append(r_pos[lo[has] + k])
    i, j = np.concatenate(i_parts), np.concatenate(j_parts)
    if len(i) < settings.band_min_points:
        return []
    cell = settings.band_cell
    row = i // cell
    diagonal = (j - i) // cell + len(d_ids) // cell + 2  # shifted to be >= 0
    width = (len(d_ids) + len(r_ids)) // cell + 4
    keys = row * width + diagonal
    cells, counts = np.unique(keys, return_counts=True)
    shifts = (0, 1, width, width + 1)  # a cell and its neighbours down the text and the diagonal
    block = np.zeros(len(cells), dtype=np.int64)
    for shift in shifts:
        at = np.minimum(np.searchsorted(cells, cells + shift), len(cells) - 1)
        block += np.where(cells[at] == cells + shift, counts[at], 0)
    anchors = cells[block >= settings.band_min_points]
    if not len(anchors):
        return []
    dense = np.unique(np.concatenate([anchors + shift for shift in shifts]))
    inside = np.isin(keys, dense)
    pairs = np.unique(np.stack([d_sentences[i[inside]], r_sentences[j[inside]]], axis=1), axis=0)
    keep = similarity[pairs[:, 0], pairs[:, 1]] >= settings.band_min_cosine
    return [(int(d), int(s)) for d, s in pairs[keep]]


def _content_word_ids(side: _Side) -> tuple[np.ndarray, np.ndarray]:
    """A hash of every content term of 3+ characters of ``side``, in reading order, and its sentence."""
    kept = [[term for term in terms if len(term) >= 3] for terms in side.term_lists]
    lengths = np.fromiter(map(len, kept), dtype=np.int64, count=len(kept))
    ids = np.fromiter((hash(term) for terms in kept for term in terms), dtype=np.int64, count=int(lengths.sum()))
    return ids, np.repeat(np.arange(len(kept)), lengths)


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


def _sentence_spans(suspicious: _Side, source: _Side, bounds: tuple[int, int, int, int]) -> tuple[Span, Span]:
    """The character spans of sentences ``d_lo..d_hi`` and ``s_lo..s_hi``."""
    d_lo, d_hi, s_lo, s_hi = bounds
    return (
        Span(suspicious.spans[d_lo].start, suspicious.spans[d_hi].end),
        Span(source.spans[s_lo].start, source.spans[s_hi].end),
    )


def _fragment_vectors(
    suspicious: _Side, source: _Side, bounds: tuple[int, int, int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The tf-isf vectors of sentences ``d_lo..d_hi`` and ``s_lo..s_hi``, summed per side."""
    d_lo, d_hi, s_lo, s_hi = bounds
    return (
        np.asarray(suspicious.vectors[d_lo : d_hi + 1].sum(axis=0)).ravel(),
        np.asarray(source.vectors[s_lo : s_hi + 1].sum(axis=0)).ravel(),
    )


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / norm if norm else 0.0


def _fragment_cosine(suspicious: _Side, source: _Side, bounds: tuple[int, int, int, int]) -> float:
    return _cosine(*_fragment_vectors(suspicious, source, bounds))


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


VALIDATOR_FEATURES = (
    "fragment_cosine", "seeds", "suspicious_sentences", "source_sentences", "seed_cosine_mean",
    "seed_cosine_max", "seed_cosine_min", "seed_dice_mean", "log_suspicious_chars",
    "log_source_chars", "log_length_ratio", "suspicious_density", "source_density", "order",
    "literal_share", "pair_seed_rate", "gap", "single_sentence",
)  # fmt: skip
"""What the learned cluster validator sees of a cluster (:func:`cluster_features`)."""


def cluster_features(
    cluster: list[Seed], gap: int, similarity: np.ndarray, suspicious: _Side, source: _Side, pair_seed_rate: float
) -> np.ndarray:
    """The :data:`VALIDATOR_FEATURES` of one seed cluster, as a float vector."""
    d_lo, d_hi, s_lo, s_hi = bounds = _bounds(cluster)
    d_span, r_span = _sentence_spans(suspicious, source, bounds)
    cosines = [float(similarity[seed]) for seed in cluster]
    dices = []
    for d, s in cluster:
        a, b = suspicious.terms[d], source.terms[s]
        dices.append(2.0 * len(a & b) / max(1, len(a) + len(b)))
    n_suspicious = len({d for d, _ in cluster})
    n_source = len({s for _, s in cluster})
    concordant = comparable = 0
    for i, (di, si) in enumerate(cluster):
        for dj, sj in cluster[i + 1 :]:
            if di != dj and si != sj:
                comparable += 1
                concordant += (di - dj) * (si - sj) > 0
    d_tokens, _ = _tokens(suspicious.text, d_span)
    r_tokens, _ = _tokens(source.text, r_span)
    literal = 0.0
    if len(d_tokens) >= 3:
        literal = float(_covered(d_tokens, {tuple(r_tokens[i : i + 3]) for i in range(len(r_tokens) - 2)}, 3).mean())
    return np.array(
        [
            _fragment_cosine(suspicious, source, bounds),
            len(cluster),
            n_suspicious,
            n_source,
            float(np.mean(cosines)),
            max(cosines),
            min(cosines),
            float(np.mean(dices)),
            math.log(len(d_span)),
            math.log(len(r_span)),
            abs(math.log(len(d_span) / len(r_span))),
            n_suspicious / (d_hi - d_lo + 1),
            n_source / (s_hi - s_lo + 1),
            concordant / comparable if comparable else 0.5,
            literal,
            pair_seed_rate,
            gap,
            float(n_suspicious == 1 or n_source == 1),
        ]
    )


def quadratic_terms(standardised: np.ndarray) -> np.ndarray:
    """The features and all their pairwise products (squares included), for rows of features."""
    upper = np.triu_indices(standardised.shape[-1])
    products = standardised[..., :, None] * standardised[..., None, :]
    return np.concatenate([standardised, products[..., upper[0], upper[1]]], axis=-1)


@dataclass(frozen=True)
class Validator:
    """A fitted cluster validator: logistic regression over standardised quadratic terms."""

    mean: np.ndarray
    scale: np.ndarray
    term_mean: np.ndarray
    term_scale: np.ndarray
    weights: np.ndarray
    intercept: float

    def probability(self, features: np.ndarray) -> float:
        """The probability that a cluster with these features is a reused passage."""
        terms = quadratic_terms((features - self.mean) / self.scale)
        z = float(((terms - self.term_mean) / self.term_scale) @ self.weights) + self.intercept
        return 1.0 / (1.0 + math.exp(-z))


@lru_cache(maxsize=4)
def load_validator(name: str) -> Validator:
    """The cluster validator stored as ``retold/data/NAME.json`` (``bench/fit_pan_validator.py``)."""
    path = resources.files("retold") / "data" / f"{name}.json"
    model = json.loads(path.read_text(encoding="utf-8"))
    if tuple(model["features"]) != VALIDATOR_FEATURES:
        raise ValueError(f"{name}.json: features do not match this version of retold")
    arrays = {key: np.asarray(model[key], dtype=np.float64) for key in ("mean", "scale", "term_mean", "term_scale", "weights")}
    return Validator(intercept=float(model["intercept"]), **arrays)


def cluster_tree(
    seeds: list[Seed],
    similarity: np.ndarray,
    settings: PassageSettings,
    accept: Callable[[list[Seed], int], bool] = lambda cluster, gap: False,
) -> Iterator[tuple[list[Seed], int]]:
    """The clusters the extension step visits, with their gap.

    Seeds are clustered with ``max_gap_sentences``; a cluster that ``accept`` refuses is
    clustered again with a gap one smaller, down to 1. With the default ``accept`` every cluster
    of the whole tree is visited (what ``bench/fit_pan_validator.py`` learns from).
    """
    stack = [(seeds, settings.max_gap_sentences)]
    while stack:
        group, gap = stack.pop()
        for cluster in cluster_seeds(group, gap):
            if settings.chain:
                cluster = _best_chain(cluster, similarity, gap)
            cluster = _trim_edges(cluster, similarity, settings.trim_ratio)
            yield cluster, gap
            if not accept(cluster, gap) and gap > 1 and len(cluster) > 1:
                stack.append((cluster, gap - 1))


def extend(
    seeds: list[Seed],
    similarity: np.ndarray,
    suspicious: _Side,
    source: _Side,
    settings: PassageSettings,
) -> list[tuple[list[Seed], float]]:
    """Clusters of seeds that pass validation, each with its score (probability or fragment cosine)."""
    result: list[tuple[list[Seed], float]] = []
    pair_seed_rate = len(seeds) / max(1, min(len(suspicious.spans), len(source.spans)))

    def accept(cluster: list[Seed], gap: int) -> bool:
        if settings.validator:
            features = cluster_features(cluster, gap, similarity, suspicious, source, pair_seed_rate)
            quality = load_validator(settings.validator).probability(features)
            accepted = quality >= settings.validation_probability
        else:
            quality = _fragment_cosine(suspicious, source, _bounds(cluster))
            accepted = quality >= settings.validation_cosine
        if accepted:
            result.append((cluster, quality))
        return accepted

    for _ in cluster_tree(seeds, similarity, settings, accept):
        pass
    return result


_TOKEN_RE = re.compile(r"\w+")


@lru_cache(maxsize=8)
def _token_index(text: str) -> tuple[list[int], list[int], list[str]]:
    """Starts, ends and lower-cased forms of every word of ``text``, found once per text."""
    found = list(_TOKEN_RE.finditer(text))
    return [m.start() for m in found], [m.end() for m in found], [m.group().lower() for m in found]


def _tokens(text: str, span: Span) -> tuple[list[str], list[tuple[int, int]]]:
    """The words inside ``span`` with their offsets, as ``_TOKEN_RE.finditer(text, start, end)``
    finds them (a word cut by an edge is cut there too), read from the text's word index."""
    if span.end <= span.start:
        return [], []
    starts, ends, words = _token_index(text)
    first, last = bisect_right(ends, span.start), bisect_left(starts, span.end)
    found = words[first:last]
    offsets = list(zip(starts[first:last], ends[first:last]))
    if found and offsets[0][0] < span.start:
        offsets[0] = (span.start, offsets[0][1])
        found[0] = text[slice(*offsets[0])].lower()
    if found and offsets[-1][1] > span.end:
        offsets[-1] = (offsets[-1][0], span.end)
        found[-1] = text[slice(*offsets[-1])].lower()
    return found, offsets


def _covered(tokens: list[str], other: set[tuple[str, ...]], n: int) -> np.ndarray:
    """Which tokens lie inside an ``n``-gram that also occurs in the other text."""
    mask = np.zeros(len(tokens), dtype=bool)
    for i in range(len(tokens) - n + 1):
        if tuple(tokens[i : i + n]) in other:
            mask[i : i + n] = True
    return mask


def _run_edges(mask: np.ndarray, run: int) -> tuple[int, int] | None:
    """First and last index of the outermost runs of ``run`` covered tokens."""
    if len(mask) < run:
        return None
    windows = np.convolve(mask.astype(np.int32), np.ones(run, dtype=np.int32), "valid") == run
    hits = np.flatnonzero(windows)
    if not len(hits):
        return None
    return int(hits[0]), int(hits[-1]) + run - 1


def _block_edges(
    d_tokens: list[str], r_tokens: list[str], run: int
) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    """First and last token of the in-order common word runs (at least ``run`` words) of two texts.

    The runs are difflib's matching blocks, which pair the two sides, so both edges come from the
    same copied words (shared words elsewhere in one region cannot stretch only that side).
    """
    blocks = [
        b
        for b in difflib.SequenceMatcher(None, d_tokens, r_tokens, autojunk=False).get_matching_blocks()
        if b.size >= run
    ]
    if not blocks:
        return None, None
    first, last = blocks[0], blocks[-1]
    return (first.a, last.a + last.size - 1), (first.b, last.b + last.size - 1)


def _end_after_punctuation(text: str, end: int) -> int:
    while end < len(text) and not text[end].isspace() and not text[end].isalnum():
        end += 1
    return end


def refine_edges(
    suspicious: _Side,
    source: _Side,
    bounds: tuple[int, int, int, int],
    strength: float,
    settings: PassageSettings,
) -> tuple[Span, Span]:
    """Passage spans, with edges moved to the outermost shared word runs where copying is literal.

    The passage is widened by one sentence on each side, both texts are cut into words, and
    word ``refine_ngram``-grams found in both regions mark the copied words. When they cover at
    least ``refine_min_share`` of the passage's suspicious words (and the passage's median seed
    cosine, ``strength``, reaches ``refine_min_cosine``), each edge moves to the first or
    last run of ``refine_run`` marked words: a copied passage that begins or ends inside a
    sentence (as the splitter sees it) is cut there, and a sentence next to it that was copied
    but missed as a seed is taken in.
    """
    d_lo, d_hi, s_lo, s_hi = bounds
    d_span, r_span = _sentence_spans(suspicious, source, bounds)
    if settings.refine_ngram <= 0 or strength < settings.refine_min_cosine:
        return d_span, r_span
    margin = settings.refine_margin_sentences
    d_region = Span(
        suspicious.spans[max(0, d_lo - margin)].start,
        suspicious.spans[min(len(suspicious.spans) - 1, d_hi + margin)].end,
    )
    r_region = Span(
        source.spans[max(0, s_lo - margin)].start,
        source.spans[min(len(source.spans) - 1, s_hi + margin)].end,
    )
    n = settings.refine_ngram
    d_tokens, d_offsets = _tokens(suspicious.text, d_region)
    r_tokens, r_offsets = _tokens(source.text, r_region)
    d_mask = _covered(d_tokens, {tuple(r_tokens[i : i + n]) for i in range(len(r_tokens) - n + 1)}, n)
    inside = [i for i, (start, _) in enumerate(d_offsets) if d_span.start <= start < d_span.end]
    share = float(d_mask[inside].mean()) if inside else 0.0
    if share < settings.refine_min_share:
        return d_span, r_span
    if settings.refine_blocks:
        d_edges, r_edges = _block_edges(d_tokens, r_tokens, settings.refine_run)
    else:
        r_mask = _covered(r_tokens, {tuple(d_tokens[i : i + n]) for i in range(len(d_tokens) - n + 1)}, n)
        d_edges = _run_edges(d_mask, settings.refine_run)
        r_edges = _run_edges(r_mask, settings.refine_run)
    if d_edges is None or r_edges is None:
        return d_span, r_span
    # an edge moves inside its own sentence or out into the margin, never past a whole sentence
    if share < settings.refine_free_share:
        d_first_end, d_last_start = suspicious.spans[d_lo].end - 1, suspicious.spans[d_hi].start + 1
        r_first_end, r_last_start = source.spans[s_lo].end - 1, source.spans[s_hi].start + 1
    else:
        d_first_end, d_last_start = len(suspicious.text), 0
        r_first_end, r_last_start = len(source.text), 0
    d_new = Span(
        min(d_offsets[d_edges[0]][0], d_first_end),
        max(_end_after_punctuation(suspicious.text, d_offsets[d_edges[1]][1]), d_last_start),
    )
    r_new = Span(
        min(r_offsets[r_edges[0]][0], r_first_end),
        max(_end_after_punctuation(source.text, r_offsets[r_edges[1]][1]), r_last_start),
    )
    if len(d_new) <= 0 or len(r_new) <= 0:
        return d_span, r_span
    return d_new, r_new


def tighten_bounds(
    suspicious: _Side, source: _Side, bounds: tuple[int, int, int, int], settings: PassageSettings
) -> tuple[int, int, int, int]:
    """Move passage edges one sentence at a time while that raises the fragment cosine.

    An edge sentence is dropped when the passage without it is closer to the other side by more
    than ``tighten``; a sentence next to the passage is taken in when it raises the cosine by more
    than ``widen`` (0 turns either move off).
    """
    d_rows, r_rows = suspicious.vectors, source.vectors
    d_lo, d_hi, s_lo, s_hi = bounds
    d_vec, r_vec = _fragment_vectors(suspicious, source, bounds)

    def row(rows: sparse.csr_matrix, i: int) -> np.ndarray:
        return np.asarray(rows[i].toarray()).ravel()

    current = _cosine(d_vec, r_vec)
    for _ in range(8):
        moves = []
        if settings.tighten > 0:
            if d_hi > d_lo:
                moves.append(((d_lo + 1, d_hi, s_lo, s_hi), d_vec - row(d_rows, d_lo), r_vec, settings.tighten))
                moves.append(((d_lo, d_hi - 1, s_lo, s_hi), d_vec - row(d_rows, d_hi), r_vec, settings.tighten))
            if s_hi > s_lo:
                moves.append(((d_lo, d_hi, s_lo + 1, s_hi), d_vec, r_vec - row(r_rows, s_lo), settings.tighten))
                moves.append(((d_lo, d_hi, s_lo, s_hi - 1), d_vec, r_vec - row(r_rows, s_hi), settings.tighten))
        if settings.widen > 0:
            if d_lo > 0:
                moves.append(((d_lo - 1, d_hi, s_lo, s_hi), d_vec + row(d_rows, d_lo - 1), r_vec, settings.widen))
            if d_hi + 1 < d_rows.shape[0]:
                moves.append(((d_lo, d_hi + 1, s_lo, s_hi), d_vec + row(d_rows, d_hi + 1), r_vec, settings.widen))
            if s_lo > 0:
                moves.append(((d_lo, d_hi, s_lo - 1, s_hi), d_vec, r_vec + row(r_rows, s_lo - 1), settings.widen))
            if s_hi + 1 < r_rows.shape[0]:
                moves.append(((d_lo, d_hi, s_lo, s_hi + 1), d_vec, r_vec + row(r_rows, s_hi + 1), settings.widen))
        best = None
        for new_bounds, a, b, margin in moves:
            gain = _cosine(a, b) - current
            if gain > margin and (best is None or gain > best[0]):
                best = (gain, new_bounds, a, b)
        if best is None:
            break
        _, (d_lo, d_hi, s_lo, s_hi), d_vec, r_vec = best
        current = _cosine(d_vec, r_vec)
    return d_lo, d_hi, s_lo, s_hi


def extend_diagonally(
    similarity: np.ndarray, bounds: tuple[int, int, int, int], settings: PassageSettings
) -> tuple[int, int, int, int]:
    """Take in the sentence pairs next to a passage on both sides at once while they are similar.

    Translated and obfuscated passages keep the order of their sentences, so the sentence just
    before a passage in one text and the one just before it in the other are each other's
    counterparts, even when they are too changed to seed: a pair whose tf-isf cosine reaches
    ``diagonal_cosine`` (well under ``seed_cosine``) joins the passage, up to ``diagonal_steps``
    pairs at each end. ``similarity`` has suspicious sentences as rows.
    """
    d_lo, d_hi, s_lo, s_hi = bounds
    threshold, steps = settings.diagonal_cosine, settings.diagonal_steps
    if threshold <= 0:
        return bounds
    n_suspicious, n_source = similarity.shape
    for _ in range(steps):
        if d_lo == 0 or s_lo == 0 or similarity[d_lo - 1, s_lo - 1] < threshold:
            break
        d_lo, s_lo = d_lo - 1, s_lo - 1
    for _ in range(steps):
        if d_hi + 1 >= n_suspicious or s_hi + 1 >= n_source or similarity[d_hi + 1, s_hi + 1] < threshold:
            break
        d_hi, s_hi = d_hi + 1, s_hi + 1
    return d_lo, d_hi, s_lo, s_hi


def _unsupported_run(words: list[tuple[int, int, str]], support: set[str], settings: PassageSettings) -> int:
    """How many of ``words`` (taken from the passage's edge inwards) to cut off: those up to the
    lowest running sum of +1 per content word in ``support`` and ``-partial_edge_penalty`` per
    content word not in it, when that sum reaches ``-partial_edge_margin``; else 0."""
    running, lowest, cut = 0.0, 0.0, 0
    for k, (_, _, word) in enumerate(words):
        if word in STOPWORDS:
            continue
        running += 1.0 if stem(word) in support else -settings.partial_edge_penalty
        if running < lowest:
            lowest, cut = running, k + 1
    return cut if lowest <= -settings.partial_edge_margin and cut < len(words) else 0


def _word_spans(text: str, start: int, end: int) -> list[tuple[int, int, str]]:
    """The words of ``text[start:end]``: (start, end, lower-cased word) each."""
    words, offsets = _tokens(text, Span(start, end))
    return [(first, last, word) for word, (first, last) in zip(words, offsets)]


def _trim_partial_side(side: _Side, span: Span, support: set[str], settings: PassageSettings) -> Span:
    """``span`` with the unsupported words cut off inside its first and its last sentence."""
    first = next((sp for sp in side.spans if sp.start <= span.start < sp.end), None)
    if first is not None:
        words = _word_spans(side.text, span.start, min(first.end, span.end))
        cut = _unsupported_run(words, support, settings)
        if cut:
            span = Span(words[cut][0], span.end)
    last = next((sp for sp in side.spans if sp.start < span.end <= sp.end), None)
    if last is not None:
        words = _word_spans(side.text, max(last.start, span.start), span.end)
        cut = _unsupported_run(words[::-1], support, settings)
        if cut:
            span = Span(span.start, _end_after_punctuation(side.text, words[-cut - 1][1]))
    return span


def trim_partial_edges(
    passages: list[tuple[Span, Span]], suspicious: _Side, source: _Side, settings: PassageSettings
) -> list[tuple[Span, Span]]:
    """Cut each passage's first and last sentence, on both sides, where the reuse begins or ends inside it.

    Obfuscated passages do not keep sentence boundaries: a reused stretch often begins in the
    middle of what the splitter sees as one sentence, the rest of which is host text. Walking
    from the passage's edge inwards, a content word that also occurs in the other side's span
    (widened by ``partial_edge_context_chars``) counts +1, a word that does not
    ``-partial_edge_penalty``; the words up to the lowest running sum are cut off when that sum
    is ``-partial_edge_margin`` or lower. The source side is cut first, then the suspicious side
    against the cut source span.
    """
    if settings.partial_edge_margin <= 0:
        return passages
    context = settings.partial_edge_context_chars
    trimmed = []
    for d_span, r_span in passages:
        d_support = set(content_terms(suspicious.text[max(0, d_span.start - context) : d_span.end + context]))
        r_span = _trim_partial_side(source, r_span, d_support, settings)
        r_support = set(content_terms(source.text[max(0, r_span.start - context) : r_span.end + context]))
        trimmed.append((_trim_partial_side(suspicious, d_span, r_support, settings), r_span))
    return trimmed


def _supported_share(text: str, start: int, end: int, support: set[str]) -> float | None:
    """The share of the content words of ``text[start:end]`` that are in ``support`` (None: no content word)."""
    terms = content_terms(text[start:end])
    return sum(term in support for term in terms) / len(terms) if terms else None


def _cut_lines(text: str, span: Span, support: set[str], settings: PassageSettings) -> Span:
    """``span`` without a first or last line that ``support`` backs much less than the whole span."""
    whole = _supported_share(text, span.start, span.end, support)
    if not whole:
        return span
    threshold = settings.line_cut_share * whole
    reach = settings.line_cut_max_share * len(span)
    last = text.rfind("\n", span.start, span.end)
    if span.start < last and span.end - last <= reach:
        share = _supported_share(text, last, span.end, support)
        if share is not None and share < threshold:
            end = last
            while end > span.start and text[end - 1].isspace():
                end -= 1
            span = Span(span.start, end)
    first = text.find("\n", span.start, span.end)
    if span.start < first and first - span.start <= reach:
        share = _supported_share(text, span.start, first, support)
        if share is not None and share < threshold:
            start = first
            while start < span.end and text[start].isspace():
                start += 1
            if start < span.end:
                span = Span(start, span.end)
    return span


def cut_source_lines(
    passages: list[tuple[Span, Span]], suspicious: str, source: str, settings: PassageSettings
) -> list[tuple[Span, Span]]:
    """Cut a source span's first or last line off when the suspicious span backs it much less than the rest.

    Seeds and extension take in a whole source sentence beside the reused passage when it shares
    the passage's topic words, and that sentence is often the start of the next paragraph: on
    the PAN fit half, the 80-400 characters by which random-obfuscation detections overran their
    case were mostly such a line. A line at the span's edge (after its last or before its first
    line break, at most ``line_cut_max_share`` of the span) goes when the share of its content
    words found in the suspicious span is under ``line_cut_share`` times the whole span's share.
    Obfuscation lowers both shares alike, so the test is relative (decision 38).
    """
    if settings.line_cut_share <= 0:
        return passages
    return [
        (d_span, _cut_lines(source, r_span, set(content_terms(d_span.slice(suspicious))), settings))
        for d_span, r_span in passages
    ]


def literal_passages(suspicious: str, source: str, settings: PassageSettings) -> list[tuple[Span, Span]]:
    """Verbatim and near-verbatim copies found word by word, with word-exact edges.

    Shared word ``literal_ngram``-grams are joined into runs along their diagonals; runs in
    order on both sides and at most ``literal_gap_words`` apart form one passage, kept when it
    holds ``literal_min_words`` matched words covering ``literal_min_share`` of its words on both
    sides.
    """
    n = settings.literal_ngram
    d_tokens, r_tokens = _lower_words(suspicious), _lower_words(source)
    if n <= 0 or len(d_tokens) < n or len(r_tokens) < n:
        return []
    d_keys, r_keys = _ngram_keys(d_tokens, r_tokens, n)
    order = np.argsort(r_keys, kind="stable")
    sorted_keys = r_keys[order]
    lo = np.searchsorted(sorted_keys, d_keys, side="left")
    hi = np.searchsorted(sorted_keys, d_keys, side="right")
    runs: dict[tuple[int, int], list[int]] = {}  # (diagonal, run start) -> [i0, i1, j0, j1]
    open_runs: dict[int, list[int]] = {}
    for i in np.flatnonzero(hi > lo).tolist():
        for j in order[lo[i] : min(hi[i], lo[i] + 8)].tolist():
            run = open_runs.get(j - i)
            if run is not None and run[1] >= i - 1 + n - 1:
                run[1], run[3] = i + n - 1, j + n - 1
            else:
                run = [i, i + n - 1, j, j + n - 1]
                open_runs[j - i] = run
                runs[(j - i, i)] = run
    passages: list[list[int]] = []  # [i0, i1, j0, j1, matched words]
    for i0, i1, j0, j1 in sorted(runs.values()):
        last = passages[-1] if passages else None
        if (
            last is not None
            and i0 - last[1] <= settings.literal_gap_words
            and -n <= j0 - last[3] <= settings.literal_gap_words
            and j1 > last[3]
        ):
            matched = i1 - max(i0, last[1] + 1) + 1
            last[1], last[3], last[4] = max(last[1], i1), j1, last[4] + max(0, matched)
        else:
            passages.append([i0, i1, j0, j1, i1 - i0 + 1])
    found: list[tuple[Span, Span]] = []
    if not any(p[4] >= settings.literal_min_words for p in passages):
        return found
    d_offsets = [m.span() for m in _TOKEN_RE.finditer(suspicious)]
    r_offsets = [m.span() for m in _TOKEN_RE.finditer(source)]
    if len(d_offsets) != len(d_tokens) or len(r_offsets) != len(r_tokens):
        return found  # lower-casing moved a word boundary (never seen; offsets would be wrong)
    for i0, i1, j0, j1, matched in sorted(passages, key=lambda p: -p[4]):
        if matched < settings.literal_min_words:
            break
        if matched < settings.literal_min_share * max(i1 - i0 + 1, j1 - j0 + 1):
            continue
        d_span = Span(d_offsets[i0][0], _end_after_punctuation(suspicious, d_offsets[i1][1]))
        if any(d_span.start < d.end and d.start < d_span.end for d, _ in found):
            continue
        found.append((d_span, Span(r_offsets[j0][0], _end_after_punctuation(source, r_offsets[j1][1]))))
    return sorted(found, key=lambda p: p[0].start)


def _lower_words(text: str) -> list[str]:
    """The lower-cased ``\\w+`` words of ``text``, in the order of ``_TOKEN_RE.finditer(text)``."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return _TOKEN_RE.findall(lowered)
    return [m.group().lower() for m in _TOKEN_RE.finditer(text)]


def _ngram_keys(d_tokens: list[str], r_tokens: list[str], n: int) -> tuple[np.ndarray, np.ndarray]:
    """One 64-bit key per word ``n``-gram of each text (equal keys: equal n-grams, barring collisions)."""
    d_ids = np.fromiter(map(hash, d_tokens), dtype=np.int64, count=len(d_tokens)).view(np.uint64)
    r_ids = np.fromiter(map(hash, r_tokens), dtype=np.int64, count=len(r_tokens)).view(np.uint64)

    def keys(ids: np.ndarray) -> np.ndarray:
        out = np.zeros(len(ids) - n + 1, dtype=np.uint64)
        for k in range(n):
            out = out * np.uint64(1_000_003) + ids[k : len(ids) - n + 1 + k]
        return out

    return keys(d_ids), keys(r_ids)


def _with_literal(
    passages: list[tuple[Span, Span]], literal: list[tuple[Span, Span]], cover: float
) -> list[tuple[Span, Span]]:
    """Passages with literal copies put in.

    A literal passage replaces the sentence-level passages it overlaps (suspicious side) when it
    covers at least ``cover`` of each; one that covers less of an obfuscated passage is dropped
    (a verbatim stretch inside a rewritten passage is not the whole passage).
    """
    kept = list(passages)
    for d, r in literal:
        overlapping = [p for p in kept if p[0].start < d.end and d.start < p[0].end]
        shares = [(min(d.end, p[0].end) - max(d.start, p[0].start)) / len(p[0]) for p in overlapping]
        if all(share >= cover for share in shares):
            kept = [p for p in kept if p not in overlapping] + [(d, r)]
    return sorted(kept, key=lambda p: (p[0].start, p[1].start))


def filter_passages(
    clusters: list[tuple[list[Seed], float]],
    similarity: np.ndarray,
    suspicious: _Side,
    source: _Side,
    settings: PassageSettings,
) -> list[tuple[Span, Span]]:
    """Spans of the clusters after overlap resolution and the length filters."""
    candidates = []
    for cluster, quality in clusters:
        d_lo, d_hi, s_lo, s_hi = _bounds(cluster)
        if settings.tighten > 0 or settings.widen > 0:
            d_lo, d_hi, s_lo, s_hi = tighten_bounds(suspicious, source, (d_lo, d_hi, s_lo, s_hi), settings)
        strength = float(np.median([similarity[seed] for seed in cluster]))
        d_span, r_span = refine_edges(suspicious, source, (d_lo, d_hi, s_lo, s_hi), strength, settings)
        if (d_span, r_span) == _sentence_spans(suspicious, source, (d_lo, d_hi, s_lo, s_hi)):
            # not a literal copy (those keep their word-level edges): take in changed neighbours
            d_lo, d_hi, s_lo, s_hi = extend_diagonally(similarity, (d_lo, d_hi, s_lo, s_hi), settings)
            d_span, r_span = _sentence_spans(suspicious, source, (d_lo, d_hi, s_lo, s_hi))
        if len(d_span) < settings.min_passage_chars or len(r_span) < settings.min_passage_chars:
            continue
        if d_lo == d_hi or s_lo == s_hi:
            if quality < settings.single_sentence_cosine:
                continue
            if min(len(d_span), len(r_span)) < settings.min_single_seed_chars:
                continue
        candidates.append((quality * np.sqrt(len(cluster)), d_span, r_span))
    candidates.sort(key=lambda c: (-c[0], c[1].start))
    kept: list[tuple[Span, Span]] = []
    for _, d_span, r_span in candidates:
        if any(d_span.start < k.end and k.start < d_span.end for k, _ in kept):
            continue
        beyond = _beyond_found(r_span, [k for _, k in kept], settings)
        if beyond is not None:
            kept.append((d_span, beyond))
    kept.sort(key=lambda p: (p[0].start, p[1].start))
    return kept


def _beyond_found(r_span: Span, found: list[Span], settings: PassageSettings) -> Span | None:
    """``r_span`` less the source text already found for a stronger passage, or None if too little is left.

    One source paragraph matched at several places of the suspicious text (a repeated footer, a
    topic sentence echoed) is one reuse, and PAN counts each source passage once: when more than
    ``source_overlap`` of the shorter span is shared, only the part of ``r_span`` on the far side
    of the earlier find is kept, if it reaches ``min_passage_chars``.
    """
    for k in found:
        shared = min(r_span.end, k.end) - max(r_span.start, k.start)
        if shared <= settings.source_overlap * min(len(r_span), len(k)):
            continue
        before, after = k.start - r_span.start, r_span.end - k.end
        if max(before, after) < settings.min_passage_chars:
            return None
        r_span = Span(r_span.start, k.start) if before >= after else Span(k.end, r_span.end)
    return r_span


def detect_summary(
    suspicious: _Side, source: _Side, source_length: int, settings: PassageSettings, passages_found: bool = True
) -> tuple[Span, Span] | None:
    """The suspicious window closest to the whole source document, if it looks like a summary.

    The window is a run of whole sentences about ``summary_window_chars`` long; it is reported
    against the whole source text, ``Span(0, source_length)``, when its cosine reaches
    ``summary_cosine``, the source is ``summary_source_ratio`` times longer than it, and its
    sentences draw on a ``summary_spread`` share of the source (see the module docstring). When
    ``passages_found``, the window must also not draw ``summary_concentration`` of its matches from
    one ``summary_stretch`` of the source (a copied passage, which those passages already report).
    In any case no run of that many source sentences may be more than ``summary_stretch_cosine``
    times closer to the window than the whole source is.
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
    best_cosine, lo, hi = best
    window = Span(spans[lo].start, spans[hi].end)
    if source_length < settings.summary_source_ratio * len(window):
        return None
    matches = _best_source_matches(rows[lo : hi + 1], source, settings.summary_match_cosine)
    if _source_spread(matches, source) < settings.summary_spread:
        return None
    stretch = settings.summary_stretch
    if passages_found and _source_concentration(matches, source, stretch) >= settings.summary_concentration:
        return None
    if settings.summary_stretch_cosine > 0:
        window_vector = np.asarray(rows[lo : hi + 1].sum(axis=0)).ravel()
        if _best_stretch_cosine(window_vector, source, stretch) > settings.summary_stretch_cosine * best_cosine:
            return None
    return window, Span(0, source_length)


def _best_stretch_cosine(vector: np.ndarray, source: _Side, share: float) -> float:
    """The best cosine of ``vector`` to any run of ``share`` of the source sentences (summed).

    A summary is closer to its whole source than to any one part of it; a copied or paraphrased
    passage is closest to the part it came from.
    """
    norm = float(np.linalg.norm(vector))
    n = len(source.spans)
    width = min(n, max(1, round(share * n)))
    if not norm:
        return 0.0
    along = np.concatenate([[0.0], np.cumsum(np.asarray(source.vectors @ vector).ravel())])
    gram = (source.vectors @ source.vectors.T).toarray()
    # squared norm of each run of `width` sentences: sums of square blocks along the diagonal
    table = np.zeros((n + 1, n + 1))
    table[1:, 1:] = gram.cumsum(axis=0).cumsum(axis=1)
    starts = np.arange(n - width + 1)
    ends = starts + width
    squared = table[ends, ends] - table[starts, ends] - table[ends, starts] + table[starts, starts]
    dots = along[ends] - along[starts]
    valid = squared > 0
    if not valid.any():
        return 0.0
    return float((dots[valid] / np.sqrt(squared[valid])).max()) / norm


def _best_source_matches(rows: sparse.csr_matrix, source: _Side, match_cosine: float) -> np.ndarray:
    """The best source sentence of each of ``rows`` whose best cosine reaches ``match_cosine``."""
    similarity = (rows @ source.vectors.T).toarray()
    return similarity.argmax(axis=1)[similarity.max(axis=1) >= match_cosine]


def _source_spread(best: np.ndarray, source: _Side) -> float:
    """The share of the source sentences between the first and the last of the ``best`` matches."""
    if not len(best):
        return 0.0
    return float(best.max() - best.min() + 1) / len(source.spans)


def _source_concentration(best: np.ndarray, source: _Side, stretch: float) -> float:
    """The largest share of the ``best`` matches that one ``stretch`` share of the source text holds.

    A copied passage draws its matches from one place, a summary from all over its source.
    """
    if not len(best):
        return 0.0
    positions = np.sort(np.array([source.spans[j].start for j in best], dtype=np.float64)) / max(1, len(source.text))
    ends = np.searchsorted(positions, positions + stretch, side="right")
    return float((ends - np.arange(len(positions))).max()) / len(positions)


def pair_seeds(
    suspicious: str, source: str, settings: PassageSettings
) -> tuple[_Side, _Side, np.ndarray, set[Seed], list[Seed]]:
    """Both texts cut into sentences, their tf-isf similarity and the seeds of step 2.

    Returns ``(suspicious side, source side, similarity, sentence seeds, all seeds)``: the
    sentence seeds (:func:`find_seeds`) and, among all seeds, the band seeds as well
    (:func:`find_band_seeds`). ``bench/fit_pan_validator.py`` fits the validator on exactly
    these seeds.
    """
    suspicious_side, source_side = _sides(suspicious, source, settings)
    if not suspicious_side.spans or not source_side.spans:
        empty = np.zeros((len(suspicious_side.spans), len(source_side.spans)), dtype=np.float32)
        return suspicious_side, source_side, empty, set(), []
    similarity = np.asarray((suspicious_side.vectors @ source_side.vectors.T).toarray(), dtype=np.float32)
    sentence_seeds = set(find_seeds(similarity, suspicious_side.terms, source_side.terms, settings))
    band_seeds = find_band_seeds(similarity, suspicious_side, source_side, settings)
    return suspicious_side, source_side, similarity, sentence_seeds, sorted(sentence_seeds | set(band_seeds))


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
    susp_side, src_side, similarity, lexical, seeds = pair_seeds(suspicious, source, settings)
    if not susp_side.spans or not src_side.spans:
        return []
    if encoder is not None and settings.use_semantic:
        vectors = encoder.encode([sp.slice(suspicious) for sp in susp_side.spans] + [sp.slice(source) for sp in src_side.spans])
        n = len(susp_side.spans)
        semantic = vectors[:n] @ vectors[n:].T
        rows, cols = np.nonzero(semantic >= settings.semantic_seed)
        seeds = sorted(set(seeds) | set(zip(rows.tolist(), cols.tolist())))
    clusters = extend(seeds, similarity, susp_side, src_side, settings)
    passages = filter_passages(clusters, similarity, susp_side, src_side, settings)
    if settings.literal_ngram > 0 and passages:
        passages = _with_literal(passages, literal_passages(suspicious, source, settings), settings.literal_cover)
    passages = trim_partial_edges(passages, susp_side, src_side, settings)
    passages = cut_source_lines(passages, suspicious, source, settings)
    if settings.summary:
        summary = detect_summary(susp_side, src_side, len(source), settings, bool(passages))
        margin = settings.summary_margin_chars
        if (
            summary is not None
            and all(d.start >= summary[0].start - margin and d.end <= summary[0].end + margin for d, _ in passages)
            and not (  # counted among sentence seeds: band seeds make long clusters common
                settings.summary_max_seeds
                and any(len(lexical.intersection(cluster)) >= settings.summary_max_seeds for cluster, _ in clusters)
            )
        ):
            return [summary]
    return passages
