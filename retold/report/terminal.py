"""Terminal report: a readable summary of a :class:`~retold.model.CompareResult` drawn with rich.

Order: the verdict line, the direction evidence, the aligned passages side by side, the source text
that was dropped, the derivative text that was added (clauses highlighted inside their sentence) and
the fact diff (changed and added facts first). Passages are shown in full and wrapped. Article text
is always passed to rich as :class:`rich.text.Text`, never as markup, and control characters are
removed, so an article cannot inject styles or escape sequences. With ``console.no_color`` the
report stays readable: highlights that would only be colour also get bracket markers.

Example:
    >>> from rich.console import Console
    >>> from retold.report import render_terminal
    >>> render_terminal(result, Console(width=120))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from retold.model import SHARED_FACTS_NOTE, CompareResult, FactChange, Segment, Span

logger = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_STATUS_ORDER = {"changed": 0, "added": 1, "dropped": 2, "kept": 3}
_STATUS_STYLE = {"changed": "bold yellow", "added": "bold red", "dropped": "dim", "kept": "green"}
# Highlights inside passages: (style, opening marker, closing marker); the markers are printed only
# without colour, where a style alone would vanish, so the three stay told apart there too.
_MARKS = {
    "added": ("bold red underline", "{+", "+}"),
    "changed": ("bold yellow", "[~", "~]"),
    "dropped": ("magenta strike", "[-", "-]"),
}
_MARK_NAMES = {"added": "added clause", "changed": "changed fact", "dropped": "dropped fact"}
_NARROW = 110  # below this many columns the fact diff is a list, not a table


def _clean(text: str) -> str:
    """Drop control characters (ESC included) but keep newlines and tabs."""
    return _CONTROL.sub("", text)


def _pct(value: float) -> str:
    return f"{100 * value:.0f}%"


def _excerpt(
    text: str,
    spans: Sequence[Span],
    highlights: Sequence[tuple[Span, str]],
    markers: bool,
) -> Text:
    """The text of ``spans`` joined by `` … ``, with each highlight (a span and a key of
    ``_MARKS``) styled where it falls.

    With ``markers`` (no colour), highlighted ranges are also wrapped in the mark's brackets.
    """
    out = Text()
    for n, span in enumerate(sorted(spans, key=lambda s: s.start)):
        if n:
            out.append(" \u2026 ", style="dim")
        cuts = sorted(
            (max(h.start, span.start), min(h.end, span.end), style)
            for h, style in highlights
            if h.start < span.end and h.end > span.start
        )
        pos = span.start
        for start, end, mark in cuts:
            start = max(start, pos)  # overlapping highlight: style only the part not yet written
            if end <= start:
                continue
            out.append(_clean(text[pos:start]))
            piece = _clean(text[start:end])
            style, opening, closing = _MARKS[mark]
            out.append(f"{opening}{piece}{closing}" if markers else piece, style=style)
            pos = end
        out.append(_clean(text[pos : span.end]))
    return out


def _verdict_line(result: CompareResult) -> Text:
    verdict = result.verdict
    der = verdict.direction.derivative
    src = "b" if der == "a" else "a"
    line = Text()
    if verdict.derived:
        line.append("DERIVED", style="bold red")
    else:
        line.append("NOT DERIVED", style="bold green")
    line.append(f"  {der} \u2190 {src}  ", style="bold")
    line.append(
        f"(p={verdict.probability:.2f}, {verdict.type}, coverage "
        f"{_pct(result.coverage.derivative)} of {der} / {_pct(result.coverage.source)} of {src})"
    )
    return line


def _names(result: CompareResult) -> Text:
    der = result.verdict.direction.derivative
    src = "b" if der == "a" else "a"
    parts = Text("  ")
    for side, doc, role in ((der, result.derivative, "derivative"), (src, result.source, "source")):
        if side == src:
            parts.append("   ")
        parts.append(f"{side} = ", style="bold")
        parts.append(_clean(doc.name))
        if doc.title:
            parts.append(f" \u201c{_clean(doc.title)}\u201d", style="italic")
        parts.append(f" ({role})" if result.verdict.derived else f" (candidate {role})", style="dim")
    return parts


def _evidence(result: CompareResult) -> Text:
    direction = result.verdict.direction
    out = Text()
    title = "Direction" if result.verdict.derived else "Candidate orientation (not derived)"
    out.append(f"{title} (confidence {direction.confidence:.2f})", style="bold")
    if not direction.evidence:
        out.append(": no evidence recorded", style="dim")
    for reason in direction.evidence:
        out.append("\n  \u2022 ")
        out.append(_clean(reason))
    return out


def _fact_highlights(result: CompareResult) -> tuple[list[tuple[Span, str]], list[tuple[Span, str]]]:
    der: list[tuple[Span, str]] = []
    src: list[tuple[Span, str]] = []
    for change in result.facts:
        if change.derivative_mark is not None:
            der.append((change.derivative_mark, "changed"))
        if change.source_mark is not None:
            src.append((change.source_mark, change.status))
    return der, src


def _legend(marks: set[str], markers: bool) -> Text:
    """One line naming the highlights used in the passages, drawn as they appear there."""
    out = Text("Marks: ", style="dim")
    for n, mark in enumerate(m for m in _MARKS if m in marks):
        style, opening, closing = _MARKS[mark]
        if n:
            out.append("  ")
        name = _MARK_NAMES[mark]
        out.append(f"{opening}{name}{closing}" if markers else name, style=style)
    return out


def _passages(result: CompareResult, markers: bool) -> Table:
    der = result.verdict.direction.derivative
    src = "b" if der == "a" else "a"
    der_facts, src_facts = _fact_highlights(result)
    der_marks = der_facts + [(a.span, "added") for a in result.added if a.unit == "clause"]
    used = {mark for _, mark in der_marks + src_facts}
    title = Text(f"Aligned passages ({len(result.alignments)})", style="bold")
    if used:
        title.append("\n").append_text(_legend(used, markers))
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_lines=True,
        expand=True,
        pad_edge=False,
    )
    table.add_column("#", justify="right", no_wrap=True, style="dim")
    table.add_column(f"derivative ({der})", ratio=1, overflow="fold")
    table.add_column(f"source ({src})", ratio=1, overflow="fold")
    table.add_column("kind", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    for i, aln in enumerate(result.alignments):
        table.add_row(
            str(i),
            _excerpt(result.derivative.text, aln.derivative_spans, der_marks, markers),
            _excerpt(result.source.text, aln.source_spans, src_facts, markers),
            aln.kind,
            f"{aln.score:.2f}",
        )
    return table


def _dropped(result: CompareResult) -> Text:
    out = Text()
    title = "Dropped from the source" if result.verdict.derived else "Only in the candidate source"
    out.append(f"{title} ({len(result.dropped)})", style="bold")
    for item in result.dropped:
        out.append("\n  \u2212 ", style="dim")
        out.append(f"[{item.unit}] ", style="dim italic")
        out.append(_clean(item.text), style="dim")
    return out


def _enclosing(sentences: Sequence[Segment], span: Span) -> Span:
    for sent in sentences:
        if sent.start <= span.start and span.end <= sent.end:
            return Span(sent.start, sent.end)
    return span


def _added(result: CompareResult, markers: bool) -> Text:
    out = Text()
    title = (
        "Added in the derivative, no support in the source"
        if result.verdict.derived
        else "Only in the candidate derivative"
    )
    out.append(f"{title} ({len(result.added)})", style="bold")
    sentences = result.derivative_segments.sentences
    for item in result.added:
        out.append("\n  + ", style="red")
        out.append(f"[{item.unit}] ", style="dim italic")
        if item.unit == "clause":
            context = _enclosing(sentences, item.span)
            out.append_text(_excerpt(result.derivative.text, [context], [(item.span, "added")], markers))
        else:
            out.append(_clean(item.text), style="red")
    return out


def _facts(result: CompareResult, changes: Sequence[FactChange], width: int) -> Table | Text:
    """The fact diff: a table on a wide console, one entry per fact (two lines) on a narrow one,
    where six columns would break words mid-way."""
    title = f"Facts ({len(changes)})"
    if len(changes) < len(result.facts):
        title += f" \u2014 {len(result.facts) - len(changes)} kept facts not listed (`retold facts` lists them)"
    if not result.verdict.derived:
        title += f" \u2014 {SHARED_FACTS_NOTE}"
    ordered = sorted(changes, key=lambda f: _STATUS_ORDER.get(f.status, 9))
    if width < _NARROW:
        out = Text(title, style="bold")
        for change in ordered:
            out.append("\n  ")
            out.append(f"{change.status:<8}", style=_STATUS_STYLE.get(change.status, ""))
            out.append(f"{_clean(change.kind)}{' / ' + change.change if change.change else ''}  ", style="dim")
            if change.derivative:
                out.append(_clean(change.derivative.text))
            if change.derivative and change.source:
                out.append(" \u2190 ", style="dim")
            if change.source:
                out.append(_clean(change.source.text), style="" if change.derivative else "dim")
            if change.detail:
                out.append(f"\n            {_clean(change.detail)}", style="dim italic")
        return out
    table = Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        expand=True,
        pad_edge=False,
    )
    table.add_column("kind", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("change", no_wrap=True)
    table.add_column("derivative", ratio=2, overflow="fold")
    table.add_column("source", ratio=2, overflow="fold")
    table.add_column("detail", ratio=3, overflow="fold")
    for change in ordered:
        table.add_row(
            Text(_clean(change.kind)),
            Text(change.status, style=_STATUS_STYLE.get(change.status, "")),
            Text(_clean(change.change or "")),
            Text(_clean(change.derivative.text)) if change.derivative else Text("\u2014", style="dim"),
            Text(_clean(change.source.text)) if change.source else Text("\u2014", style="dim"),
            Text(_clean(change.detail)),
        )
    return table


def render(result: CompareResult, console: Console, facts_only: bool = False) -> None:
    """Print a comparison to a rich console.

    Args:
        result: what ``retold.compare(a, b)`` returned.
        console: where to print; its width and colour settings are respected (with
            ``console.no_color`` highlights are also bracketed so they survive without colour).
        facts_only: print only the verdict line and the fact diff (``retold facts``).

    Example:
        >>> render(result, Console(width=120))  # doctest: +SKIP
        DERIVED  a ← b  (p=0.97, condensed rewrite, coverage 92% of a / 55% of b)
    """
    markers = bool(console.no_color)
    console.print(_verdict_line(result))
    console.print(_names(result))
    console.print(_evidence(result))
    console.print()
    if facts_only:
        if result.facts:
            console.print(_facts(result, result.facts, console.width))
        else:
            console.print(Text("No facts found.", style="dim"))
        return
    if result.alignments:
        console.print(_passages(result, markers))
    else:
        console.print(Text("No aligned passages.", style="dim"))
    if result.dropped:
        console.print(_dropped(result))
        console.print()
    if result.added:
        console.print(_added(result, markers))
        console.print()
    # the full report lists what differs; kept facts are counted (``retold facts`` lists them all)
    differing = [f for f in result.facts if f.status != "kept"]
    if differing:
        console.print(_facts(result, differing, console.width))
    elif result.facts:
        console.print(Text(f"Facts: all {len(result.facts)} kept (`retold facts` lists them)", style="bold"))
    footer = [f"encoder {result.encoder}"] if result.encoder else []
    footer.append(f"{result.elapsed_ms:.0f} ms")
    console.print(Text(" \u00b7 ".join(footer), style="dim"))
