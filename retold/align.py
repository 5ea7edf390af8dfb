"""The align stage: which derivative sentences were rewritten from which source sentences.

The method, in four steps (each a pure function below):

1. **Similarity.** For every (derivative sentence, source sentence) pair, a lexical score (cosine of
   tf-isf vectors over stemmed content words) and a semantic score (cosine of sentence embeddings).
2. **Links.** A derivative sentence links to its best source sentence when the evidence is strong
   on its own; weaker evidence is accepted only next to a neighbour's link (rewrites keep local
   order even when they reorder paragraphs). Further source sentences join a link when they bring
   content words the first one lacks: one derivative sentence built from several source sentences.
   Several derivative sentences may link to one source sentence (a split).
3. **Passages.** Consecutive linked sentences of one derivative paragraph whose sources lie close
   together form an :class:`~retold.model.Alignment`, with a kind (verbatim, near-verbatim,
   paraphrase, condensed).
4. **Residue.** Unlinked derivative body sentences, and clauses of linked ones that neither the
   linked sources nor any other source sentence support, are *added*; source body sentences that
   nothing links to are *dropped*.

:func:`retold.passages.detect_passages` uses the same evidence on plain texts with PAN-style
output (one contiguous span per side), for ``retold eval pan``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from rapidfuzz import fuzz

from .encoders import DEFAULT_ENCODER, Encoder
from .features import content_terms, dice, shingles, tfisf_matrices, words
from .model import Added, Alignment, AlignmentKind, Dropped, Segment, Segmentation, SentenceLink, Span


@dataclass(frozen=True)
class AlignSettings:
    """Thresholds of the aligner. Scores are ``lexical + semantic`` (0..2) unless said otherwise.

    Attributes:
        encoder: sentence encoder name (see :mod:`retold.encoders`); ``"none"`` = lexical only.
        strong_score: a link on its own when lexical + semantic reaches this.
        strong_lexical: ... or when the lexical cosine alone reaches this.
        strong_semantic: ... or when the semantic cosine alone reaches this.
        weak_score: a weaker link is accepted when it lies next to a neighbour's link.
        context_sentences: how far (in sentences, both texts) "next to" reaches.
        merge_min_new_terms: content words an extra source sentence must add to join a link.
        merge_score: the least evidence an extra source sentence needs to join a link.
        merge_window_sentences: an extra source sentence must lie this close to the link's others
            (or be strong evidence on its own).
        max_sources_per_sentence: at most this many source sentences explain one sentence.
        passage_gap_sentences: source sentences may be this far apart inside one passage.
        clause_min_terms: clauses with fewer content words are never reported as added.
        clause_lexical_support: a clause is supported when this share of its words is in its sources.
        clause_semantic_support: ... or when its embedding is this close to a source sentence.
    """

    encoder: str = DEFAULT_ENCODER
    strong_score: float = 1.0
    strong_lexical: float = 0.5
    strong_semantic: float = 0.72
    weak_score: float = 0.62
    context_sentences: int = 2
    merge_min_new_terms: int = 2
    max_sources_per_sentence: int = 3
    passage_gap_sentences: int = 2
    clause_min_terms: int = 3
    clause_lexical_support: float = 0.5
    clause_semantic_support: float = 0.5
    merge_score: float = 0.55
    merge_window_sentences: int = 5


@dataclass(frozen=True)
class SentenceEvidence:
    """Similarity of every derivative sentence to every source sentence (rows: derivative)."""

    lexical: np.ndarray
    semantic: np.ndarray
    derivative_terms: tuple[frozenset[str], ...]
    source_terms: tuple[frozenset[str], ...]

    @property
    def combined(self) -> np.ndarray:
        return self.lexical + self.semantic


def sentence_evidence(
    derivative: Sequence[str], source: Sequence[str], encoder: Encoder | None
) -> SentenceEvidence:
    """Lexical and semantic similarity of two lists of sentences.

    Without an encoder the semantic matrix repeats the lexical one, so thresholds keep their scale.
    """
    d_terms = [content_terms(s) for s in derivative]
    s_terms = [content_terms(s) for s in source]
    if not derivative or not source:
        empty = np.zeros((len(derivative), len(source)), dtype=np.float32)
        return SentenceEvidence(empty, empty, tuple(map(frozenset, d_terms)), tuple(map(frozenset, s_terms)))
    d_matrix, s_matrix = tfisf_matrices(d_terms, s_terms)
    lexical = np.asarray((d_matrix @ s_matrix.T).todense(), dtype=np.float32)
    if encoder is None:
        semantic = lexical
    else:
        vectors = encoder.encode(list(derivative) + list(source))
        semantic = np.clip(vectors[: len(derivative)] @ vectors[len(derivative) :].T, 0.0, 1.0)
    return SentenceEvidence(
        lexical, semantic.astype(np.float32), tuple(map(frozenset, d_terms)), tuple(map(frozenset, s_terms))
    )


def link_sentences(evidence: SentenceEvidence, settings: AlignSettings) -> list[SentenceLink]:
    """Link derivative sentences (rows) to the source sentences (columns) they were rewritten from.

    Indices in the returned links are row and column numbers of ``evidence``.
    """
    combined = evidence.combined
    n_derivative, n_source = combined.shape
    if n_derivative == 0 or n_source == 0:
        return []
    strong = (
        (combined >= settings.strong_score)
        | (evidence.lexical >= settings.strong_lexical)
        | (evidence.semantic >= settings.strong_semantic)
    )
    best = combined.argmax(axis=1)
    primary: dict[int, int] = {d: int(best[d]) for d in range(n_derivative) if strong[d, best[d]]}

    # Weaker evidence counts only next to a neighbour's link (local order survives rewriting).
    for _ in range(2):
        added_any = False
        for d in range(n_derivative):
            if d in primary:
                continue
            anchors = [
                primary[n]
                for n in range(d - settings.context_sentences, d + settings.context_sentences + 1)
                if n in primary
            ]
            if not anchors:
                continue
            for s in np.argsort(-combined[d]):
                if combined[d, s] < settings.weak_score:
                    break
                if any(abs(int(s) - a) <= settings.context_sentences for a in anchors):
                    primary[d] = int(s)
                    added_any = True
                    break
        if not added_any:
            break

    links: list[SentenceLink] = []
    for d in sorted(primary):
        first = primary[d]
        sources = [first]
        wanted = evidence.derivative_terms[d]
        covered = set(wanted & evidence.source_terms[first])
        for s in np.argsort(-combined[d]):
            s = int(s)
            if len(sources) >= settings.max_sources_per_sentence or combined[d, s] < settings.merge_score:
                break
            if s in sources:
                continue
            gain = (wanted & evidence.source_terms[s]) - covered
            near = any(abs(s - t) <= settings.merge_window_sentences for t in sources)
            if len(gain) >= settings.merge_min_new_terms and (near or strong[d, s]):
                sources.append(s)
                covered |= gain
        sources.sort()
        links.append(
            SentenceLink(
                derivative=d,
                sources=tuple(sources),
                score=float(min(1.0, combined[d, first] / 2.0 + 0.1 * (len(sources) - 1))),
                lexical=float(evidence.lexical[d, first]),
                semantic=float(evidence.semantic[d, first]),
            )
        )
    return links


def rescue_split_sentences(
    links: Sequence[SentenceLink],
    derivative: Sequence[str],
    source: Sequence[str],
    encoder: Encoder | None,
    settings: AlignSettings,
) -> list[SentenceLink]:
    """Link derivative sentences that rewrite only *part* of a source sentence (a split).

    A short derivative sentence such as "Fares stay the same." is far from its whole source
    sentence ("A landing will open at the market, the council said, and fares will not change.")
    but close to one of its clauses. For each unlinked derivative sentence next to a linked one,
    the clauses of source sentences near the neighbour's sources are compared with it; the best
    clause's sentence is linked when word overlap (Dice) plus embedding cosine reaches
    ``weak_score`` and at least one content word is shared.
    Indices are rows/columns of the sentence lists, as in :func:`link_sentences`.
    """
    by_derivative = {link.derivative: link for link in links}
    reach = settings.context_sentences
    # (derivative sentence, its text, [(source sentence, clause text, word-overlap Dice)])
    tasks: list[tuple[int, str, list[tuple[int, str, float]]]] = []
    for d, text in enumerate(derivative):
        if d in by_derivative:
            continue
        anchors = {s for n in range(d - reach, d + reach + 1) if n in by_derivative for s in by_derivative[n].sources}
        if not anchors:
            continue
        candidates = sorted({s for a in anchors for s in range(a - reach, a + reach + 1) if 0 <= s < len(source)})
        terms = frozenset(content_terms(text))
        clauses: list[tuple[int, str, float]] = []
        for s in candidates:
            for clause in clause_spans(source[s], 0, len(source[s])):
                clause_text = clause.slice(source[s])
                overlap = dice(terms, frozenset(content_terms(clause_text)))
                if overlap > 0:  # a rescue needs a shared content word; only those are encoded
                    clauses.append((s, clause_text, overlap))
        if clauses:
            tasks.append((d, text, clauses))
    texts = [t for _, text, clauses in tasks for t in (text, *(c for _, c, _ in clauses))]
    vectors = encoder.encode(texts) if encoder is not None and texts else None
    rescued: list[SentenceLink] = []
    row = 0
    for d, _, clauses in tasks:
        lexical = np.array([overlap for _, _, overlap in clauses])
        if vectors is not None:
            semantic = np.clip(vectors[row + 1 : row + 1 + len(clauses)] @ vectors[row], 0.0, 1.0)
        else:
            semantic = lexical
        row += 1 + len(clauses)
        combined = lexical + semantic
        best = int(combined.argmax())
        if combined[best] >= settings.weak_score:
            rescued.append(
                SentenceLink(
                    derivative=d,
                    sources=(clauses[best][0],),
                    score=float(min(1.0, combined[best] / 2.0)),
                    lexical=float(lexical[best]),
                    semantic=float(semantic[best]),
                )
            )
    return sorted([*links, *rescued], key=lambda link: link.derivative)


def passage_kind(derivative_text: str, source_text: str) -> AlignmentKind:
    """Name how a passage was rewritten: verbatim, near-verbatim, condensed or paraphrase."""
    ratio = fuzz.ratio(derivative_text, source_text) / 100.0
    if ratio >= 0.97:
        return "verbatim"
    d_words = words(derivative_text)
    trigrams = shingles(d_words, 3)
    containment = len(trigrams & shingles(words(source_text), 3)) / max(1, len(trigrams))
    if ratio >= 0.85 or containment >= 0.6:
        return "near-verbatim"
    if len(derivative_text) < 0.7 * len(source_text):
        return "condensed"
    return "paraphrase"


def _merge_runs(indices: Sequence[int], sentences: Sequence[Segment]) -> tuple[Span, ...]:
    """Spans covering runs of consecutive sentence indices."""
    spans: list[Span] = []
    run_start = run_end = None
    for i in sorted(set(indices)):
        if run_end is not None and i == run_end + 1:
            run_end = i
            continue
        if run_start is not None and run_end is not None:
            spans.append(Span(sentences[run_start].start, sentences[run_end].end))
        run_start = run_end = i
    if run_start is not None and run_end is not None:
        spans.append(Span(sentences[run_start].start, sentences[run_end].end))
    return tuple(spans)


def group_passages(
    links: Sequence[SentenceLink],
    derivative_text: str,
    source_text: str,
    derivative_segments: Segmentation,
    source_segments: Segmentation,
    settings: AlignSettings,
) -> list[Alignment]:
    """Group sentence links into passages. Link indices here are *segment* sentence indices."""
    groups: list[list[SentenceLink]] = []
    for link in sorted(links, key=lambda item: item.derivative):
        if groups:
            last = groups[-1]
            same_paragraph = (
                derivative_segments.sentences[last[-1].derivative].paragraph
                == derivative_segments.sentences[link.derivative].paragraph
            )
            group_sources = {s for item in last for s in item.sources}
            close = any(
                abs(s - t) <= settings.passage_gap_sentences + 1 for s in link.sources for t in group_sources
            )
            if same_paragraph and close:
                last.append(link)
                continue
        groups.append([link])

    alignments: list[Alignment] = []
    for group in groups:
        d_indices = [item.derivative for item in group]
        s_indices = sorted({s for item in group for s in item.sources})
        d_spans = _merge_runs(d_indices, derivative_segments.sentences)
        s_spans = _merge_runs(s_indices, source_segments.sentences)
        d_text = " ".join(span.slice(derivative_text) for span in d_spans)
        s_text = " ".join(span.slice(source_text) for span in s_spans)
        weights = [len(derivative_segments.sentences[item.derivative].span) for item in group]
        score = float(np.average([item.score for item in group], weights=weights))
        alignments.append(
            Alignment(
                derivative_spans=d_spans,
                source_spans=s_spans,
                kind=passage_kind(d_text, s_text),
                score=round(score, 4),
                derivative_sentences=tuple(d_indices),
                source_sentences=tuple(s_indices),
            )
        )
    return alignments


CLAUSE_SPLIT_RE = re.compile(r"(?<!\d),|,(?!\d)|[;:()\u2014\u2013]|\s-\s")


def clause_spans(text: str, start: int, end: int) -> list[Span]:
    """Clauses of the sentence ``text[start:end]``, split at commas, semicolons, colons, dashes
    and brackets (a light, language-agnostic approximation of clause boundaries)."""
    spans: list[Span] = []
    piece_start = start
    for match in CLAUSE_SPLIT_RE.finditer(text, start, end):
        spans.append(Span(piece_start, match.start()))
        piece_start = match.end()
    spans.append(Span(piece_start, end))
    out = []
    for span in spans:
        s, e = span.start, span.end
        while s < e and not text[s].isalnum():
            s += 1
        while e > s and not (text[e - 1].isalnum() or text[e - 1] in "%)”\"'’"):
            e -= 1
        if e > s:
            out.append(Span(s, e))
    return out


def find_added(
    links: Sequence[SentenceLink],
    derivative_text: str,
    source_text: str,
    derivative_segments: Segmentation,
    source_segments: Segmentation,
    encoder: Encoder | None,
    settings: AlignSettings,
) -> list[Added]:
    """Derivative body sentences with no link, and clauses of linked ones with no support."""
    linked = {link.derivative: link for link in links}
    source_body = source_segments.body_sentences()
    source_texts = [s.span.slice(source_text) for s in source_body]
    added: list[Added] = []
    candidates: list[tuple[Span, frozenset[str]]] = []
    for sentence in derivative_segments.body_sentences():
        link = linked.get(sentence.index)
        if link is None:
            added.append(Added(sentence.span, "sentence", sentence.span.slice(derivative_text)))
            continue
        support: set[str] = set()
        for s in link.sources:
            support.update(content_terms(source_segments.sentences[s].span.slice(source_text)))
        clauses = clause_spans(derivative_text, sentence.start, sentence.end)
        if len(clauses) < 2:
            continue
        for clause in clauses:
            terms = frozenset(content_terms(clause.slice(derivative_text)))
            if len(terms) < settings.clause_min_terms:
                continue
            share = len(terms & support) / len(terms)
            new_numbers = {t for t in terms - support if t[:1].isdigit()}
            if share < settings.clause_lexical_support or new_numbers:
                candidates.append((clause, terms))
    if candidates and source_texts:
        clause_texts = [c[0].slice(derivative_text) for c in candidates]
        if encoder is not None:
            vectors = encoder.encode(clause_texts + source_texts)
            semantic = vectors[: len(clause_texts)] @ vectors[len(clause_texts) :].T
            best_semantic = semantic.max(axis=1)
        else:
            best_semantic = np.zeros(len(clause_texts))
        all_source_terms = [frozenset(content_terms(t)) for t in source_texts]
        for (clause, terms), sem in zip(candidates, best_semantic):
            best_lexical = max(len(terms & st) / len(terms) for st in all_source_terms)
            if sem < settings.clause_semantic_support and best_lexical < settings.clause_lexical_support:
                added.append(Added(clause, "clause", clause.slice(derivative_text)))
    added.sort(key=lambda a: a.span.start)
    return added


def find_dropped(
    links: Sequence[SentenceLink], source_text: str, source_segments: Segmentation
) -> list[Dropped]:
    """Source body text nothing links to: whole paragraphs when no sentence of them is used,
    otherwise the unused sentences."""
    used = {s for link in links for s in link.sources}
    by_paragraph: dict[int, list[Segment]] = {}
    for sentence in source_segments.body_sentences():
        by_paragraph.setdefault(sentence.paragraph, []).append(sentence)
    dropped: list[Dropped] = []
    for paragraph_index, sentences in sorted(by_paragraph.items()):
        unused = [s for s in sentences if s.index not in used]
        if not unused:
            continue
        if len(unused) == len(sentences):
            paragraph = source_segments.paragraphs[paragraph_index]
            dropped.append(Dropped(paragraph.span, "paragraph", paragraph.span.slice(source_text)))
        else:
            dropped.extend(Dropped(s.span, "sentence", s.span.slice(source_text)) for s in unused)
    return dropped
