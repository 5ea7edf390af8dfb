"""Lexical features shared by the aligner, the judge and retrieval.

Words are lower-cased ``\\w+`` runs. Content terms drop a short English stop-word list and are
stemmed by truncation to five characters (truncation stemming is as good as Porter's for English
retrieval and an order of magnitude faster; see docs/decisions.md). Numbers are kept whole.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Sequence

import numpy as np
from scipy import sparse

from .encoders import sentencepiece_model

WORD_RE = re.compile(r"\w+", re.UNICODE)

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it its
    itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them themselves
    then there these they this those through to too under until up very was we were what when where
    which while who whom why will with would you your yours yourself yourselves said says say told
    would could may might must shall one ms mr mrs s t""".split()
)

STEM_CHARS = 5


def words(text: str) -> list[str]:
    """Lower-cased word tokens of ``text``."""
    return WORD_RE.findall(text.lower())


def stem(word: str) -> str:
    """Truncation stem: numbers whole, other words cut to their first five characters."""
    return word if word[:1].isdigit() else word[:STEM_CHARS]


# compare reads the terms of one sentence several times (links, split rescue, added clauses, and
# the passage detector's own pass): sentence-sized texts are cached, whole documents are not.
_CACHED_TERMS_CHARS = 2000


@lru_cache(maxsize=1 << 15)
def _sentence_terms(text: str) -> tuple[str, ...]:
    return tuple(stem(w) for w in words(text) if w not in STOPWORDS)


def content_terms(text: str) -> list[str]:
    """Stemmed words of ``text`` that are not stop words (in order, with repeats)."""
    if len(text) <= _CACHED_TERMS_CHARS:
        return list(_sentence_terms(text))
    return [stem(w) for w in words(text) if w not in STOPWORDS]


def shingles(tokens: Sequence[str], size: int) -> set[tuple[str, ...]]:
    """The set of ``size``-word shingles of a token sequence."""
    return {tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}


def dice(a: set[str], b: set[str]) -> float:
    """Dice coefficient of two term sets (0 when both are empty)."""
    if not a and not b:
        return 0.0
    return 2.0 * len(a & b) / (len(a) + len(b))


def tfisf_matrices(
    derivative_terms: Sequence[Sequence[str]], source_terms: Sequence[Sequence[str]]
) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """L2-normalised tf-isf vectors for two lists of sentences over one shared vocabulary.

    The inverse sentence frequency is computed over the sentences of both sides together, as in
    Sanchez-Perez et al. (2014), so a term frequent in either text weighs little.
    """
    rows = list(derivative_terms) + list(source_terms)
    vocabulary: dict[str, int] = {}
    ids = np.fromiter(
        (vocabulary.setdefault(term, len(vocabulary)) for terms in rows for term in terms), dtype=np.int64
    )
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    counts = sparse.csr_matrix(
        (np.ones(len(ids), dtype=np.float32), (np.repeat(np.arange(len(rows)), lengths), ids)),
        shape=(len(rows), len(vocabulary)),
    )
    counts.sum_duplicates()  # term counts per sentence
    sentence_frequency = np.bincount(counts.indices, minlength=len(vocabulary))
    idf = (np.log(len(rows) / np.maximum(sentence_frequency, 1)) + 1.0).astype(np.float32)
    counts.data *= idf[counts.indices]
    entry_rows = np.repeat(np.arange(len(rows)), np.diff(counts.indptr))
    norms = np.sqrt(np.bincount(entry_rows, weights=counts.data.astype(np.float64) ** 2, minlength=len(rows)))
    norms[norms == 0] = 1.0
    counts.data /= norms[entry_rows].astype(np.float32)
    n = len(derivative_terms)
    return counts[:n], counts[n:]


# --- shared rare words ----------------------------------------------------------------------------

_LETTER_WORD_RE = re.compile(r"[^\W\d_]{3,}", re.UNICODE)

RARE_WORD_FLOOR = 10.0
"""Words at least this likely in general text (log-probability ≥ −10 nats, about 45 in a million
pieces) carry no weight in :func:`shared_rare_words`."""


@lru_cache(maxsize=1 << 16)
def word_information(word: str) -> float:
    """How rare ``word`` is in general text: its self-information in nats under the unigram
    vocabulary of the SentencePiece model that ships with the default encoder (the summed negative
    log-probabilities of its pieces). 0 when that model is not installed."""
    model = sentencepiece_model()
    if model is None:
        return 0.0
    pieces = model.encode(word, out_type=int)  # type: ignore[attr-defined]
    return -sum(model.get_score(piece) for piece in pieces)  # type: ignore[attr-defined]


def rare_word_weights(text: str, floor: float = RARE_WORD_FLOOR) -> dict[str, float]:
    """Content-word stems of ``text`` (letters only, 3+ characters) weighted by how rare the word
    is beyond ``floor`` nats; a word is as rare as its lower- or its as-written form, whichever
    is commoner (so a capitalised sentence opening is not mistaken for a name)."""
    weights: dict[str, float] = {}
    for written in _LETTER_WORD_RE.findall(text):
        lower = written.lower()
        if lower in STOPWORDS:
            continue
        weight = min(word_information(written), word_information(lower)) - floor
        key = stem(lower)
        if weight > weights.get(key, 0.0):
            weights[key] = weight
    return weights


def shared_rare_words(a: str, b: str, floor: float = RARE_WORD_FLOOR) -> float:
    """How much rare vocabulary two texts share, 0..1: the cosine of their
    :func:`rare_word_weights` as presence vectors (a shared word counts with the smaller of its
    two weights). Two reports of one event share its names, places and particulars; two articles
    on one topic share mostly the topic's common words."""
    weights_a, weights_b = rare_word_weights(a, floor), rare_word_weights(b, floor)
    total = (sum(weights_a.values()) * sum(weights_b.values())) ** 0.5
    if not total:
        return 0.0
    return sum(min(weights_a[k], weights_b[k]) for k in weights_a.keys() & weights_b.keys()) / total
