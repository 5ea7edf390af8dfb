"""A simple text-alignment baseline: shared word n-gram seeds merged into passages.

This is the kind of baseline PAN 2012/2013 shipped with text alignment: find seeds (word n-grams
that occur in both documents), then merge seeds that lie close together in *both* documents into
passages, and keep passages with enough seeds. It exists so that :func:`retold.eval.pan.evaluate_pan`
can be run end to end and to give the real aligner a floor to beat; it is not retold's aligner.

Example::

    >>> from retold.eval.baseline import detect_passages
    >>> text = "one two three four five six seven eight nine ten eleven twelve"
    >>> [(a.start, a.end, b.start, b.end) for a, b in detect_passages(text, "x " + text)]
    [(0, 62, 2, 64)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from retold.model import Span

__all__ = ["BaselineSettings", "detect_passages"]

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class BaselineSettings:
    """Settings of the n-gram baseline.

    The defaults were picked by a small grid on the PAN 2013 training corpus (n-gram 4/5/6/8,
    gap 15-120 words, 1-4 seeds): plagdet 0.752 overall there. They are tuned on the data they
    are scored on, which is acceptable for a floor, not for a claim.

    Attributes:
        ngram_words: words per seed n-gram.
        max_gap_words: largest gap, in words on either side, bridged when merging seeds.
        min_seeds: fewest seeds a passage needs to be reported.
        max_occurrences: n-grams occurring more often than this in either text are not seeds.
    """

    ngram_words: int = 4
    max_gap_words: int = 80
    min_seeds: int = 4
    max_occurrences: int = 5

    def __post_init__(self) -> None:
        if self.ngram_words < 1 or self.max_gap_words < 0 or self.min_seeds < 1:
            raise ValueError(f"invalid baseline settings: {self}")
        if self.max_occurrences < 1:
            raise ValueError(
                f"max_occurrences must be at least 1, got {self.max_occurrences}"
            )


DEFAULT_SETTINGS = BaselineSettings()


def _words(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    tokens, spans = [], []
    for m in _WORD.finditer(text):
        tokens.append(m.group().casefold())
        spans.append(m.span())
    return tokens, spans


def _ngrams(tokens: list[str], n: int) -> dict[tuple[str, ...], list[int]]:
    index: dict[tuple[str, ...], list[int]] = {}
    for i in range(len(tokens) - n + 1):
        index.setdefault(tuple(tokens[i : i + n]), []).append(i)
    return index


def detect_passages(
    suspicious: str, source: str, settings: BaselineSettings = DEFAULT_SETTINGS
) -> list[tuple[Span, Span]]:
    """Find passages of ``suspicious`` that share word n-grams with ``source``.

    Args:
        suspicious: the (possibly) derived text.
        source: the candidate source text.
        settings: n-gram size, merge gap and filters.

    Returns:
        ``(suspicious span, source span)`` per passage, ordered by suspicious offset; spans start
        at a word's first and end at a word's last character.
    """
    n = settings.ngram_words
    s_tokens, s_spans = _words(suspicious)
    r_tokens, r_spans = _words(source)
    s_grams = _ngrams(s_tokens, n)
    r_grams = _ngrams(r_tokens, n)
    seeds: list[tuple[int, int]] = []
    for gram, s_positions in s_grams.items():
        r_positions = r_grams.get(gram)
        if not r_positions:
            continue
        if (
            len(s_positions) > settings.max_occurrences
            or len(r_positions) > settings.max_occurrences
        ):
            continue
        seeds.extend((s, r) for s in s_positions for r in r_positions)
    if not seeds:
        return []
    seeds.sort()

    gap = settings.max_gap_words
    # passage: [s_start, s_end, r_start, r_end, seeds], token indices, end exclusive
    passages: list[list[int]] = []
    for s, r in seeds:
        for p in reversed(passages[-20:]):
            if s <= p[1] + gap and p[2] - gap - n <= r <= p[3] + gap:
                p[1] = max(p[1], s + n)
                p[2] = min(p[2], r)
                p[3] = max(p[3], r + n)
                p[4] += 1
                break
        else:
            passages.append([s, s + n, r, r + n, 1])

    merged = _merge(passages, gap)
    result = []
    for s_start, s_end, r_start, r_end, count in merged:
        if count < settings.min_seeds:
            continue
        result.append(
            (
                Span(s_spans[s_start][0], s_spans[s_end - 1][1]),
                Span(r_spans[r_start][0], r_spans[r_end - 1][1]),
            )
        )
    return result


def _merge(passages: list[list[int]], gap: int) -> list[list[int]]:
    """Merge passages that are within ``gap`` words of each other on both sides, until stable."""
    changed = True
    while changed:
        changed = False
        passages.sort()
        out: list[list[int]] = []
        for p in passages:
            for q in out:
                if (
                    p[0] <= q[1] + gap
                    and q[0] <= p[1] + gap
                    and p[2] <= q[3] + gap
                    and q[2] <= p[3] + gap
                ):
                    q[0], q[1] = min(q[0], p[0]), max(q[1], p[1])
                    q[2], q[3] = min(q[2], p[2]), max(q[3], p[3])
                    q[4] += p[4]
                    changed = True
                    break
            else:
                out.append(p)
        passages = out
    return passages
