"""HTML report: one self-contained, side-by-side page for a :class:`~retold.model.CompareResult`.

The page has inline CSS and a few lines of inline JavaScript and loads nothing, so it works offline
and can be mailed as one file. The derivative is on the left, the source on the right; every aligned
passage gets a colour of its own and a ``data-aln`` attribute holding the alignment id (the same
``id`` as in the JSON output), so clicking a passage scrolls the other side to its counterpart and
highlights both.

How a text is rendered: every span that marks it (aligned passages, added or dropped text, headings
and boilerplate sentences, changed facts) contributes its two boundaries; the text is walked once,
cut at every boundary, and each piece becomes one flat ``<span>`` carrying the classes of every span
that covers it. Spans may therefore nest or overlap freely (a clause inside an aligned sentence, a
fact inside a passage) without ever producing crossed tags. Paragraphs become ``<p>`` blocks. All
article text and metadata is escaped with :func:`html.escape`.

Example:
    >>> from retold.report import to_html
    >>> Path("report.html").write_text(to_html(result), encoding="utf-8")  # doctest: +SKIP
"""

from __future__ import annotations

import html
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise

from retold.model import (
    SHARED_FACTS_NOTE,
    CompareResult,
    Document,
    FactChange,
    Segment,
    Segmentation,
)

logger = logging.getLogger(__name__)

# Light, mutually distinguishable backgrounds; dark text stays readable on each of them.
PALETTE: tuple[str, ...] = (
    "#ffe38a",
    "#a9d6ff",
    "#bdf0b2",
    "#ffc6a8",
    "#e2c8ff",
    "#a6eee6",
    "#ffb8d6",
    "#dbe99d",
    "#c9d0ff",
    "#f3d2a2",
    "#b4e3c9",
    "#f2bcbc",
)

_STATUS_ORDER = {"changed": 0, "added": 1, "dropped": 2, "kept": 3}


@dataclass(frozen=True)
class _Mark:
    """One span to show in a text: the classes and tooltip its pieces get."""

    start: int
    end: int
    classes: tuple[str, ...]
    title: str = ""
    aln: int | None = None
    head_class: str | None = None  # extra class on the first rendered piece (CSS labels)


@dataclass(frozen=True)
class _Block:
    start: int
    end: int
    role: str | None  # paragraph role; None for text outside every paragraph


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _pct(value: float) -> str:
    return f"{100 * value:.0f}%"


def _pieces(length: int, marks: Sequence[_Mark]) -> Iterator[tuple[int, int, list[_Mark]]]:
    """Cut ``[0, length)`` at every mark boundary; yield each piece with the marks covering it."""
    bounds = {0, length}
    starts: dict[int, list[_Mark]] = defaultdict(list)
    for mark in marks:
        bounds.update((mark.start, mark.end))
        starts[mark.start].append(mark)
    points = sorted(bounds)
    active: list[_Mark] = []
    for lo, hi in pairwise(points):
        active = [m for m in active if m.end > lo] + starts.get(lo, [])
        yield lo, hi, active


def _blocks(length: int, text: str, paragraphs: Sequence[Segment]) -> list[_Block]:
    """Paragraph blocks in text order, plus blocks for non-blank text between paragraphs."""
    blocks: list[_Block] = []
    pos = 0
    for para in sorted(paragraphs, key=lambda s: (s.start, s.end)):
        start, end = max(para.start, pos), min(para.end, length)
        if end <= start:
            continue
        if start > pos and text[pos:start].strip():
            blocks.append(_Block(pos, start, None))
        blocks.append(_Block(start, end, para.role))
        pos = end
    if pos < length and (text[pos:].strip() or not blocks):
        blocks.append(_Block(pos, length, None))
    return blocks


def _render_text(text: str, segmentation: Segmentation, marks: Iterable[_Mark]) -> str:
    """Render one article body: ``<p>`` blocks of flat, classed ``<span>`` pieces."""
    length = len(text)
    clipped = [
        _Mark(max(0, m.start), min(m.end, length), m.classes, m.title, m.aln, m.head_class) for m in marks
    ]
    clipped = [m for m in clipped if m.end > m.start]
    para_role = {p.index: p.role for p in segmentation.paragraphs}
    for sent in segmentation.sentences:  # sentence roles that differ from their paragraph's
        if sent.role != "body" and para_role.get(sent.paragraph) != sent.role:
            clipped.append(
                _Mark(
                    max(0, sent.start),
                    min(sent.end, length),
                    (sent.role,),
                    sent.role,
                    head_class=f"{sent.role}-start",
                )
            )
    blocks = _blocks(length, text, segmentation.paragraphs)
    for edge in blocks:  # block edges are cut points too, so no piece straddles two blocks
        clipped.append(_Mark(edge.start, edge.start, ()))
        clipped.append(_Mark(edge.end, edge.end, ()))

    out: list[str] = []
    headed: set[int] = set()  # marks whose first piece was rendered
    block_i = -1
    open_block: _Block | None = None
    block: _Block | None
    for lo, hi, active in _pieces(length, clipped):
        while block_i + 1 < len(blocks) and blocks[block_i + 1].start <= lo:
            block_i += 1
        block = blocks[block_i] if block_i >= 0 and lo < blocks[block_i].end else None
        if block is not open_block:
            if open_block is not None:
                out.append("</p>\n")
            if block is not None:
                role = block.role or "gap"
                out.append(f'<p class="para {role}">')
            open_block = block
        if block is None:  # blank text between paragraphs: the <p> blocks show the break
            continue
        out.append(_piece(text[lo:hi], [m for m in active if m.classes], headed))
    if open_block is not None:
        out.append("</p>\n")
    return "".join(out)


def _piece(text: str, active: list[_Mark], headed: set[int]) -> str:
    if not active:
        return _esc(text)
    classes: list[str] = []
    titles: list[str] = []
    alns: list[int] = []
    heads: list[int] = []
    labels: list[str] = []  # empty spans before the piece; CSS draws the label text
    for mark in active:
        for cls in mark.classes:
            if cls not in classes:
                classes.append(cls)
        if mark.title and mark.title not in titles:
            titles.append(mark.title)
        first = id(mark) not in headed
        if first:
            headed.add(id(mark))
            if mark.head_class:
                labels.append(f'<span class="label {mark.head_class}" aria-hidden="true"></span>')
        if mark.aln is not None:
            if mark.aln not in alns:
                alns.append(mark.aln)
            if first:
                heads.append(mark.aln)
    attrs = ""
    if alns:
        alns.sort()
        classes.append(f"c{alns[0] % len(PALETTE)}")
        if len(alns) > 1:
            classes.append("multi")
        attrs += f' data-aln="{" ".join(map(str, alns))}"'
    if heads:
        attrs += f' data-head="{" ".join(map(str, sorted(heads)))}"'
    if titles:
        attrs += f' title="{_esc(chr(10).join(titles))}"'
    labels_html = "".join(labels)
    if not classes:
        return f"{labels_html}{_esc(text)}"
    return f'{labels_html}<span class="{" ".join(classes)}"{attrs}>{_esc(text)}</span>'


def _fact_title(change: FactChange) -> str:
    der, src = change.derivative, change.source
    if change.status == "changed" and der is not None and src is not None:
        how = f" ({change.change})" if change.change else ""
        title = f"{change.kind} changed{how}: source \u201c{src.text}\u201d \u2192 derivative \u201c{der.text}\u201d"
    elif change.status == "added" and der is not None:
        title = f"{change.kind} added: \u201c{der.text}\u201d is not in the source"
    elif change.status == "dropped" and src is not None:
        title = f"{change.kind} dropped: \u201c{src.text}\u201d is not in the derivative"
    else:
        title = f"{change.kind} {change.status}"
    return f"{title}. {change.detail}" if change.detail else title


def _marks(result: CompareResult) -> tuple[list[_Mark], list[_Mark]]:
    """Marks for the derivative text and for the source text."""
    der: list[_Mark] = []
    src: list[_Mark] = []
    for i, aln in enumerate(result.alignments):
        title = f"passage {i}: {aln.kind}, score {aln.score:.2f} (click to show its counterpart)"
        der += [_Mark(s.start, s.end, ("aln",), title, i) for s in aln.derivative_spans]
        src += [_Mark(s.start, s.end, ("aln",), title, i) for s in aln.source_spans]
    for added in result.added:
        der.append(
            _Mark(
                added.span.start,
                added.span.end,
                ("added",),
                f"added {added.unit}: no support in source",
                head_class="added-start",
            )
        )
    for dropped in result.dropped:
        src.append(
            _Mark(
                dropped.span.start,
                dropped.span.end,
                ("dropped",),
                f"dropped {dropped.unit}: no counterpart in the derivative",
            )
        )
    for change in result.facts:
        cls = ("fact", f"fact-{change.status}")
        for marks, span in ((der, change.derivative_mark), (src, change.source_mark)):
            if span is not None:
                marks.append(_Mark(span.start, span.end, cls, _fact_title(change)))
    return der, src


def _doc_meta(doc: Document) -> str:
    parts = [p for p in (doc.site, doc.author, doc.published) if p]
    meta = " \u00b7 ".join(_esc(p) for p in parts)
    if doc.url:
        # only web addresses become links: a "javascript:" URL from a JSON or WARC input stays text
        is_web = doc.url.strip().lower().startswith(("http://", "https://"))
        link = f'<a href="{_esc(doc.url)}">{_esc(doc.url)}</a>' if is_web else _esc(doc.url)
        meta = f"{meta} \u00b7 {link}" if meta else link
    return meta


def _column(role: str, side: str, doc: Document, body: str) -> str:
    title = f'<div class="doc-title">{_esc(doc.title)}</div>' if doc.title else ""
    meta = _doc_meta(doc)
    meta_html = f'<div class="doc-meta">{meta}</div>' if meta else ""
    return (
        f'<section class="column" data-side="{side}">\n'
        f'<div class="col-head"><span class="role">{_esc(role)}</span> '
        f'<span class="side">{side.upper()}</span> '
        f'<span class="name">{_esc(doc.name)}</span>{title}{meta_html}</div>\n'
        f'<article class="article" data-side="{side}" data-role="{_esc(role.lower())}">\n'
        f"{body}</article>\n</section>\n"
    )


def _facts_table(result: CompareResult) -> str:
    if not result.facts:
        return '<p class="muted">No facts were compared.</p>'
    rows = []
    facts = sorted(result.facts, key=lambda f: _STATUS_ORDER.get(f.status, 9))
    for f in facts:
        der = _esc(f.derivative.text) if f.derivative else '<span class="muted">\u2014</span>'
        src = _esc(f.source.text) if f.source else '<span class="muted">\u2014</span>'
        rows.append(
            f'<tr class="status-{_esc(f.status)}"><td>{_esc(f.kind)}</td>'
            f'<td><span class="badge st-{_esc(f.status)}">{_esc(f.status)}</span></td>'
            f"<td>{_esc(f.change or '')}</td><td>{der}</td><td>{src}</td><td>{_esc(f.detail)}</td></tr>"
        )
    return (
        '<table class="facts"><thead><tr><th>kind</th><th>status</th><th>change</th>'
        "<th>derivative text</th><th>source text</th><th>detail</th></tr></thead>\n<tbody>\n"
        + "\n".join(rows)
        + "\n</tbody></table>"
    )


def _legend() -> str:
    swatches = "".join(f'<span class="swatch" style="background:{c}"></span>' for c in PALETTE[:5])
    return (
        '<div class="legend" id="legend"><span class="legend-title">Legend</span>'
        f'<span class="item">{swatches} aligned passage (one colour each; hover for kind and score, '
        "click to jump to its counterpart)</span>"
        '<span class="item"><span class="added">text</span> added: no support in source</span>'
        '<span class="item"><span class="dropped">text</span> dropped: source text with no counterpart</span>'
        '<span class="item"><span class="fact fact-changed">fact</span> changed fact (hover for what changed)</span>'
        '<span class="item"><span class="lg-heading">Heading</span> heading</span>'
        '<span class="item"><span class="boilerplate">boilerplate</span> boilerplate (not counted)</span>'
        "</div>"
    )


def _header(result: CompareResult) -> str:
    verdict = result.verdict
    direction = verdict.direction
    der_side, src_side = direction.derivative, ("b" if direction.derivative == "a" else "a")
    der, src = result.derivative, result.source
    status = "Derived" if verdict.derived else "Not derived"
    cls = "derived" if verdict.derived else "not-derived"
    arrow = (
        f'<span class="side">{der_side.upper()}</span> {_esc(der.name)} '
        f'<span class="arrow">\u2190</span> <span class="side">{src_side.upper()}</span> {_esc(src.name)}'
    )
    orient = "" if verdict.derived else ' <span class="muted">(candidate orientation)</span>'
    evidence = "".join(f"<li>{_esc(e)}</li>" for e in direction.evidence)
    evidence_html = (
        f'<details class="evidence"><summary>Direction evidence '
        f"(confidence {direction.confidence:.2f})</summary><ul>{evidence}</ul></details>"
        if evidence
        else f'<div class="muted">Direction confidence {direction.confidence:.2f}; no evidence recorded.</div>'
    )
    n_changed = sum(1 for f in result.facts if f.status == "changed")
    counts = (
        f"{_count(len(result.alignments), 'aligned passage')} \u00b7 {len(result.added)} added \u00b7 "
        f"{len(result.dropped)} dropped \u00b7 {_count(n_changed, 'changed fact')}"
    )
    return (
        "<header>\n"
        f'<div class="verdict {cls}"><span class="status">{status}</span> {arrow}{orient}'
        f' <span class="figures">p = {verdict.probability:.2f} \u00b7 {_esc(verdict.type)} \u00b7 '
        f"coverage {_pct(result.coverage.derivative)} of {der_side.upper()} / "
        f"{_pct(result.coverage.source)} of {src_side.upper()}</span></div>\n"
        f'<div class="counts muted">{counts}</div>\n'
        f"{evidence_html}\n{_legend()}\n</header>\n"
    )


_CSS = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1b1b;background:#fafafa}
header{padding:14px 20px 10px;background:#fff;border-bottom:1px solid #ddd}
.verdict{font-size:19px;margin-bottom:4px}
.verdict .status{font-weight:700;padding:1px 8px;border-radius:4px;color:#fff;margin-right:6px}
.verdict.derived .status{background:#b3261e}
.verdict.not-derived .status{background:#2e7d32}
.verdict .side,.col-head .side{font-weight:700;border:1px solid #999;border-radius:3px;padding:0 4px;font-size:.85em}
.verdict .arrow{font-weight:700;margin:0 2px}
.verdict .figures{color:#444;margin-left:8px;font-size:16px}
.muted{color:#777}
.counts{font-size:13px}
details.evidence{margin:4px 0;font-size:14px}
details.evidence ul{margin:4px 0 4px 18px;padding:0}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:13px;margin-top:8px;align-items:center}
.legend .legend-title{font-weight:700}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:1px;vertical-align:-1px}
.lg-heading{font-weight:700}
main{display:grid;grid-template-columns:1fr 1fr;gap:14px;padding:14px 20px}
.column{background:#fff;border:1px solid #ddd;border-radius:6px;min-width:0;display:flex;flex-direction:column}
.col-head{padding:8px 14px;border-bottom:1px solid #e4e4e4;background:#f4f4f6;border-radius:6px 6px 0 0}
.col-head .role{font-weight:700;text-transform:uppercase;font-size:12px;letter-spacing:.05em;color:#555}
.col-head .name{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px}
.doc-title{font-weight:600;margin-top:2px}
.doc-meta{font-size:12px;color:#666;overflow-wrap:anywhere}
.article{padding:6px 16px 12px;overflow-y:auto;max-height:78vh}
.para{white-space:pre-wrap;margin:.6em 0}
.para.heading{font-weight:700;font-size:1.15em}
.para.gap{color:#666}
.heading{font-weight:700}
.boilerplate{color:#999;font-size:.92em}
.para.boilerplate::before,.label::before{display:inline-block;font-size:10px;line-height:1.3;font-weight:600;border-radius:3px;padding:0 4px;margin-right:4px;vertical-align:1px;text-decoration:none;font-style:normal}
.para.boilerplate::before,.label.boilerplate-start::before{content:"boilerplate";background:#eee;color:#777;border:1px solid #ccc}
.aln{border-radius:2px;cursor:pointer}
.aln.multi{box-shadow:inset 0 -2px 0 #0005}
.active{outline:2px solid #222;outline-offset:0}
.added{text-decoration:underline wavy #d32f2f;text-decoration-skip-ink:none;text-underline-offset:3px}
.label.added-start::before{content:"added";background:#fdecea;color:#b71c1c;border:1px solid #e57373}
.dropped{color:#8a8a8a;text-decoration:line-through #9e9e9e}
.fact{border:1.5px dashed #e65100;border-radius:3px;padding:0 1px;cursor:help}
.fact-changed{color:#8e1b00;font-weight:600}
.fact-added{border-color:#d32f2f}
.fact-dropped{border-color:#9e9e9e}
section.facts-section{padding:0 20px 24px}
section.facts-section h2{font-size:17px;margin:8px 0}
table.facts{border-collapse:collapse;width:100%;background:#fff;font-size:14px}
table.facts th,table.facts td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
table.facts th{background:#f4f4f6}
tr.status-changed td{background:#fff4e5}
.badge{font-size:12px;border-radius:3px;padding:0 5px;border:1px solid #ccc}
.st-changed{background:#ffe0b2;border-color:#fb8c00}
.st-added{background:#fdecea;border-color:#e57373}
.st-dropped{background:#eee}
.st-kept{background:#e8f5e9;border-color:#81c784}
footer{padding:0 20px 20px;font-size:12px;color:#888}
@media (max-width:900px){main{grid-template-columns:1fr}.article{max-height:none}}
"""

_JS = """
(function(){
  function clear(){document.querySelectorAll('.active').forEach(function(e){e.classList.remove('active');});}
  document.addEventListener('click', function(ev){
    var el = ev.target.closest('[data-aln]');
    if (!el) { clear(); return; }
    var ids = el.getAttribute('data-aln').split(' ');
    var here = el.closest('.article');
    var there = Array.prototype.filter.call(document.querySelectorAll('.article'), function(a){return a !== here;})[0];
    clear();
    ids.forEach(function(id){
      document.querySelectorAll('[data-aln~="' + id + '"]').forEach(function(e){e.classList.add('active');});
    });
    var target = there && there.querySelector('[data-aln~="' + ids[0] + '"]');
    if (target) target.scrollIntoView({behavior: 'smooth', block: 'center'});
  });
})();
"""


def _palette_css() -> str:
    return "".join(f".c{i}{{background:{colour}}}\n" for i, colour in enumerate(PALETTE))


def to_html(result: CompareResult) -> str:
    """Render a comparison as one self-contained HTML page (inline CSS and JS, works offline).

    Args:
        result: what ``retold.compare(a, b)`` returned.

    Returns:
        The page as a string: verdict header and legend, the derivative (left) and the source
        (right) side by side with linked, coloured passages, and a table of the compared facts.

    Example:
        >>> page = to_html(result)  # doctest: +SKIP
        >>> Path("report.html").write_text(page, encoding="utf-8")  # doctest: +SKIP
    """
    direction = result.verdict.direction
    der_side = direction.derivative
    src_side = "b" if der_side == "a" else "a"
    der_marks, src_marks = _marks(result)
    der_body = _render_text(result.derivative.text, result.derivative_segments, der_marks)
    src_body = _render_text(result.source.text, result.source_segments, src_marks)
    derived = result.verdict.derived
    der_col = _column(
        "Derivative" if derived else "Candidate derivative", der_side, result.derivative, der_body
    )
    src_col = _column("Source" if derived else "Candidate source", src_side, result.source, src_body)
    title = f"retold: {result.derivative.name} \u2190 {result.source.name}"
    footer = []
    if result.encoder:
        footer.append(f"encoder {_esc(result.encoder)}")
    footer.append(f"{result.elapsed_ms:.0f} ms")
    footer_text = " \u00b7 ".join(footer)
    facts_note = "" if result.verdict.derived else f'<p class="muted">{_esc(SHARED_FACTS_NOTE.capitalize())}.</p>\n'
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="retold">\n'
        f"<title>{_esc(title)}</title>\n<style>{_CSS}{_palette_css()}</style>\n</head>\n<body>\n"
        f"{_header(result)}"
        f'<main class="columns">\n{der_col}{src_col}</main>\n'
        '<section class="facts-section"><h2>Facts</h2>\n'
        f"{facts_note}"
        f"{_facts_table(result)}\n</section>\n"
        f"<footer>retold \u00b7 {footer_text}</footer>\n"
        f"<script>{_JS}</script>\n</body>\n</html>\n"
    )
