"""The segment stage: paragraphs and sentences of a document, each with a role.

:func:`segment` is a pure function of the document text (and its title). Offsets are half-open
character offsets into ``document.text``, trimmed of surrounding whitespace.

Paragraphs
    Texts come in two shapes: blank-line-separated blocks whose lines are hard-wrapped, and one
    paragraph per line (with or without blank lines between). Each block of non-blank lines is
    judged on its own: it is *hard-wrapped* when its longest line has between
    ``min_wrapped_line_chars`` and ``max_wrapped_line_chars`` characters, fewer than ``wrapped_final_share`` of its lines (all
    but the last) end a sentence, and either its indentation varies (wire copy that starts each
    paragraph with an indented line) or at least ``full_line_share`` of its lines are full (the
    next line's first word would not have fitted) or continue into a line that does not start a
    sentence. Then its lines are joined; a paragraph starts at an indented line (when the
    indentation varies), at a list item, or after a line that stopped early at a sentence end or
    as a short title line (``short_line_share`` of the longest line) before a capital. Otherwise
    every line is a paragraph. Markdown headings (``# ...``) and setext headings (a line underlined
    with ``===`` or ``---``) are always paragraphs of their own; lines without any letter or digit
    (``***``, ``---``) separate paragraphs and belong to none.

Roles
    ``boilerplate``: a short paragraph (at most ``max_boilerplate_words`` words) that matches one
    of the patterns in :data:`BOILERPLATE_PATTERNS` (comment sections, share and subscribe
    prompts, related-article links, cookie notices, copyright lines, photo credits, reporting
    credits, comment-form labels) or is a byline (``By Jane Doe``). Position counts too: the
    article's tail is the run of paragraphs at the end that are pattern-matched or short (at most
    ``max_tail_words`` words) without sentence-final punctuation; from its first pattern-matched
    paragraph on, everything is boilerplate ("Comments" / "Leave a Reply" / "Your name" / "Post").
    A body sentence ("He declined to comment.") ends the tail, so short news paragraphs are safe.

    ``heading``: Markdown and setext headings; a line equal to the document title; a line repeated
    among the first three paragraphs (a headline printed twice); and title-like lines: one line,
    at most ``max_heading_words`` words (``max_title_words`` for the first paragraph), no
    sentence-final punctuation, not a list item, not ending in a reporting clause
    (``..., he added``), not a table row (``a | b | c``), starting with an upper-case letter or
    digit, followed by more text, and not in a run of more than ``max_heading_run`` such lines
    (a longer run is a list).

    ``body``: everything else.

Sentences
    blingfire splits each body paragraph; offsets are verified (``text[start:end]`` must be the
    sentence) and searched for when they do not match. A small post-pass fixes two habits:
    a sentence that begins in lower case after a closing quote or ``?``/``!`` is joined to the
    one before (``"Why?" he asked.``), and a break is added after a closing quote that ends a
    sentence and is followed by a capitalised word (``... in." Fans ...``); a break right after a
    courtesy title (``Mr.``, ``Gen.``) or a month abbreviation before a number is undone. Heading
    and boilerplate paragraphs are one sentence each.

Example:
    >>> from retold.model import Document
    >>> doc = Document.from_text("Port reopens\\n\\nThe port reopened. Ships came in.")
    >>> seg = segment(doc)
    >>> [p.role for p in seg.paragraphs], len(seg.sentences)
    (['heading', 'body'], 3)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import NamedTuple

from retold.errors import ConfigError
from retold.model import Document, Role, Segment, Segmentation

__all__ = ["BOILERPLATE_PATTERNS", "SegmentSettings", "segment"]


@dataclass(frozen=True)
class SegmentSettings:
    """Thresholds of the segment stage.

    Attributes:
        max_heading_words: longest line, in words, that may be a title-like heading.
        max_title_words: the same for the first paragraph (headlines run longer than subheads).
        min_wrapped_line_chars, max_wrapped_line_chars: a block whose longest line is shorter
            (a list, an address) or longer (one paragraph per line) is never hard-wrapped.
        wrapped_final_share: a block is hard-wrapped only when fewer than this share of its lines
            (all but the last) end with sentence-final punctuation.
        full_line_share: a block without indented lines is hard-wrapped only when at least this
            share of its lines (all but the last) are full (the next line's first word would not
            have fitted within the block's longest line) or are followed by a line that does not
            start a sentence.
        short_line_share: in a hard-wrapped block, a line shorter than this share of the longest
            line, followed by a capitalised line, ends its paragraph (a title line, say).
        max_boilerplate_words: longer paragraphs are never boilerplate by pattern.
        max_tail_words: short unpunctuated paragraphs of at most this many words may belong to the
            furniture after the article.
        max_heading_run: title-like lines in a longer run of consecutive ones are a list (tour
            dates, product features), not headings.

    Example:
        >>> SegmentSettings(max_heading_words=10).max_heading_words
        10
    """

    max_heading_words: int = 14
    max_title_words: int = 25
    min_wrapped_line_chars: int = 50
    max_wrapped_line_chars: int = 100
    wrapped_final_share: float = 0.5
    full_line_share: float = 0.5
    short_line_share: float = 0.6
    max_boilerplate_words: int = 40
    max_tail_words: int = 20
    max_heading_run: int = 2

    def __post_init__(self) -> None:
        for field_name in ("max_heading_words", "max_title_words", "min_wrapped_line_chars",
                           "max_wrapped_line_chars",
                           "max_boilerplate_words", "max_tail_words", "max_heading_run"):
            value = getattr(self, field_name)
            if not isinstance(value, int) or value < 0:
                raise ConfigError(f"segment.{field_name} must be a non-negative integer, got {value!r}")
        for field_name in ("wrapped_final_share", "full_line_share", "short_line_share"):
            value = getattr(self, field_name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"segment.{field_name} must lie in [0, 1], got {value!r}")


_DEFAULT_SETTINGS = SegmentSettings()

# --- boilerplate patterns --------------------------------------------------------------------------
# Each pattern is searched (case-insensitively) in a paragraph of at most max_boilerplate_words
# words, with its whitespace collapsed. They describe page furniture, never article content.
_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
BOILERPLATE_PATTERNS: tuple[tuple[str, str], ...] = (
    # comment sections
    ("comments", r"^(?:\d+\s+)?(?:comments?|responses?|replies|discussion)(?:\s*\(\d+\))?\s*:?$"),
    ("comments", r"^(?:\d+|no|one)\s+(?:comments?|responses?|replies)\b"),
    ("comments", r"^(?:leave|post|add|write|submit|join)\s+(?:a|your|the)\s+(?:reply|comment|response|discussion|conversation)\b"),
    ("comments", r"^no comments?(?: yet)?\b"),
    ("comments", r"\bbe the first to (?:comment|reply|respond|review)\b"),
    ("comments", r"\byour email address will not be published\b"),
    ("comments", r"\brequired fields are marked\b"),
    ("comments", r"^(?:you must be\s+)?log(?:ged)?\s*in to (?:post|comment|reply)\b"),
    ("comments", r"^cancel reply$"),
    ("comments", r"\bcomments? (?:are|is) closed\b"),
    ("comments", r"^(?:view|show|load|read|see) (?:all )?(?:\d+ )?comments\b"),
    ("comments", r"^(?:your )?(?:name|e-?mail(?: address)?|website|comment|message)\s*\*?\s*:?$"),
    ("comments", r"^(?:post|submit|send)(?: (?:a |your )?(?:comment|reply))?$"),
    ("comments", r"^save my name,? e-?mail,? and website\b"),
    ("comments", r"^notify me of (?:new |follow-up )?(?:comments|posts)\b"),
    # sharing, subscribing, following
    ("share", r"^share(?: this| on| via| the| article| story| post| page|$|\s*:)"),
    ("share", r"^(?:click to )?(?:share|tweet|email|print|pin)(?: this)?(?: (?:article|story|page|post))?$"),
    ("share", r"^(?:share|tweet|email|print|pin it)(?:\s*[|/•·,]\s*(?:share|tweet|email|print|pin it|facebook|twitter|whatsapp|linkedin|reddit))+$"),
    ("subscribe", r"^subscribe\b"),
    ("subscribe", r"\bsign up (?:for|to) (?:our|the|my)\b.{0,40}\bnewsletters?\b"),
    ("subscribe", r"^(?:get|receive) (?:our|the) .{0,40}newsletter\b"),
    ("subscribe", r"\bnewsletter sign[- ]?up\b"),
    ("follow", r"^follow (?:us|me)\b"),
    ("follow", r"^follow .{1,40}\bon (?:twitter|x|facebook|instagram|linkedin|tiktok|youtube|threads|bluesky)\b"),
    # related links, ads
    ("related", r"^(?:related(?: articles?| stories| posts?| content| coverage| news| reading)?|read more|read next|more from\b.*|see also|recommended(?: for you| stories)?|you (?:may|might) also like|most (?:read|popular|viewed)|trending(?: now)?|more stories|also read|further reading)\s*[:.]?(?:\s|$)"),
    ("advertisement", r"^(?:advertisement|advertising|sponsored(?: content)?|ad|story continues below(?: advertisement)?)$"),
    # cookies
    ("cookies", r"\b(?:we|this (?:web)?site) uses? cookies\b"),
    ("cookies", r"\baccept (?:all )?cookies\b"),
    ("cookies", r"\bcookie (?:policy|settings|preferences|consent)\b"),
    # copyright
    ("copyright", r"^(?:©|\(c\)|copyright\b)"),
    ("copyright", r"\ball rights reserved\b"),
    # credits
    ("credit", r"^\(?(?:additional )?(?:reporting|writing|editing|edited|compiled|research|reported|produced|translated|graphics?)(?: and \w+)? by\b"),
    ("credit", r"^(?:written|words|story|text) by\b"),
    ("credit", r"^\(?(?:photo|photograph|image|picture|video|illustration|graphic|file photo|main image|top image|caption|credit)s?(?: credit)?\s*(?::|by\b|source\b|copyright\b)"),
    ("credit", r"(?:/|\bvia |\bby )\s*(?:getty images|shutterstock|alamy|istock(?:photo)?|ap photo|afp|reuters|epa|pa images|bloomberg)\b[^.]{0,30}\)?$"),
    ("credit", r"^\(?(?:getty images|shutterstock|alamy|istock(?:photo)?|ap photo|afp)\b"),
    ("credit", r"^image source\b"),
    # navigation and page furniture
    ("click", r"^click here\b"),
    ("click", r"\bclick here to\b"),
    ("furniture", r"^(?:tags?|filed under|posted in|categories|topics)\s*:"),
    ("furniture", r"^(?:tags?|filed under|categories|topics)$"),
    ("furniture", r"^skip to (?:main )?content\b"),
    ("furniture", r"^(?:published|updated|last updated|posted)(?: on| at)?\s*:?\s*(?:\d|" + _MONTHS + r"|mon|tue|wed|thu|fri|sat|sun)"),
    ("furniture", r"^(?:back to top|print this (?:article|page)|email this (?:article|page)|report an error)$"),
)
# Anchored patterns are matched at the start in one pass; the few unanchored ones run only when a
# paragraph contains one of their key words (searching 40 patterns everywhere cost ~10 ms per 30 KB).
_ANCHORED_RE = re.compile(
    "|".join(f"(?:{pattern[1:]})" for _, pattern in BOILERPLATE_PATTERNS if pattern.startswith("^")),
    re.IGNORECASE,
)
_FLOATING_RES = tuple(
    re.compile(pattern, re.IGNORECASE) for _, pattern in BOILERPLATE_PATTERNS if not pattern.startswith("^")
)
_FLOATING_KEYS = ("first to", "email address", "required", "closed", "sign up", "sign-up", "signup",
                  "cookie", "rights reserved", "click here", "getty", "shutterstock", "alamy", "istock",
                  "photo", "afp", "reuters", "epa", "pa images", "bloomberg")
_BYLINE_RE = re.compile(r"^by\s+(?P<names>[^\W\d_][^\n]{0,120})$", re.IGNORECASE)
_BYLINE_CONNECTORS = frozenset({"and", "&", "de", "del", "da", "van", "von", "der", "den", "la", "le",
                                "bin", "al", "el", "|", "-", "–", "—", "in", "for", "the", "staff",
                                "writer", "reporter", "correspondent", "editor", "news", "published",
                                "updated"})

# --- line and paragraph shapes ----------------------------------------------------------------------
_MD_HEADING_RE = re.compile(r"^\s{0,3}#{1,6}\s+\S")
_SETEXT_RE = re.compile(r"^\s{0,3}(?:=+|-{2,})\s*$")
_LIST_ITEM_RE = re.compile(r"^\s*(?:[-*•+–▪●]|\d{1,3}[.)]|[a-z][.)])\s+\S")
_HAS_WORD_RE = re.compile(r"\w")
_FINAL_RE = re.compile(r"[.!?…。！？][\"'”’»)\]]*$")
_NOT_TITLE_END_RE = re.compile(r"[.!?…:;,。！？][\"'”’»)\]]*$")
_REPORTING_CLAUSE_RE = re.compile(
    r",\s+(?:\w+\s+){0,3}(?:said|says|added|adds|told|noted|stated|explained|wrote|asked|warned|insisted)"
    r"(?:\s+\w+){0,2}$",
    re.IGNORECASE,
)
_KEY_RE = re.compile(r"[\W_]+")


class _Line(NamedTuple):
    start: int
    end: int
    text: str
    indent: int


class _Paragraph(NamedTuple):
    start: int
    end: int
    lines: int
    heading: bool  # Markdown or setext heading
    list_item: bool


def segment(document: Document, settings: SegmentSettings = _DEFAULT_SETTINGS) -> Segmentation:
    """Split a document into paragraphs and sentences and give each a role.

    Args:
        document: the document; only ``text`` and ``title`` are read.
        settings: thresholds (see :class:`SegmentSettings`).

    Returns:
        The paragraphs and sentences, in text order. Every sentence lies inside its paragraph
        (``Segment.paragraph``) and has its role.

    Example:
        >>> seg = segment(Document.from_text("The port reopened. Ships came in."))
        >>> [(s.start, s.end) for s in seg.sentences]
        [(0, 18), (19, 33)]
    """
    return _segment(document.text, document.title, settings)


@lru_cache(maxsize=256)
def _segment(text: str, title: str | None, settings: SegmentSettings) -> Segmentation:
    """:func:`segment` of a text and title, cached: a scan or a trace compares each document with
    several others, and a segmentation is immutable."""
    paragraphs = _paragraphs(text, settings)
    roles = _roles(text, paragraphs, title, settings)
    para_segments = tuple(
        Segment("paragraph", role, p.start, p.end, index, index)
        for index, (p, role) in enumerate(zip(paragraphs, roles))
    )
    sentences: list[Segment] = []
    for index, (p, role) in enumerate(zip(paragraphs, roles)):
        if role == "body":
            spans = _sentences(text, p.start, p.end)
        else:
            spans = [(p.start, p.end)]
        for start, end in spans:
            sentences.append(Segment("sentence", role, start, end, len(sentences), index))
    return Segmentation(paragraphs=para_segments, sentences=tuple(sentences))


# --- paragraphs -------------------------------------------------------------------------------------

def _blocks(text: str) -> list[list[_Line]]:
    """Runs of non-blank lines, each line trimmed (offsets of its first and last non-space)."""
    blocks: list[list[_Line]] = []
    current: list[_Line] = []
    pos = 0
    for raw in text.split("\n"):
        stripped = raw.strip()
        if stripped:
            start = pos + (len(raw) - len(raw.lstrip()))
            current.append(_Line(start, start + len(stripped), stripped, start - pos))
        elif current:
            blocks.append(current)
            current = []
        pos += len(raw) + 1
    if current:
        blocks.append(current)
    return blocks


def _paragraphs(text: str, settings: SegmentSettings) -> list[_Paragraph]:
    paragraphs: list[_Paragraph] = []
    for block in _blocks(text):
        run: list[_Line] = []
        i = 0
        while i < len(block):
            line = block[i]
            nxt = block[i + 1] if i + 1 < len(block) else None
            if nxt is not None and _SETEXT_RE.match(nxt.text) and _HAS_WORD_RE.search(line.text):
                paragraphs.extend(_split_run(run, settings))
                run = []
                paragraphs.append(_Paragraph(line.start, line.end, 1, True, False))
                i += 2
                continue
            if not _HAS_WORD_RE.search(line.text):  # separator: ***, ---, ===
                paragraphs.extend(_split_run(run, settings))
                run = []
            elif _MD_HEADING_RE.match(line.text):
                paragraphs.extend(_split_run(run, settings))
                run = []
                paragraphs.append(_Paragraph(line.start, line.end, 1, True, False))
            else:
                run.append(line)
            i += 1
        paragraphs.extend(_split_run(run, settings))
    return paragraphs


def _split_run(run: list[_Line], settings: SegmentSettings) -> list[_Paragraph]:
    """Paragraphs of a run of lines with no heading or separator inside."""
    if not run:
        return []
    width = max(len(line.text) for line in run)
    indents = [line.indent for line in run]
    indented = min(indents) != max(indents)
    if len(run) == 1 or not _is_hard_wrapped(run, width, indented, settings):
        return [_Paragraph(l.start, l.end, 1, False, bool(_LIST_ITEM_RE.match(l.text))) for l in run]
    margin = min(indents)
    paragraphs: list[_Paragraph] = []
    group: list[_Line] = [run[0]]
    for previous, line in pairwise(run):
        if indented:  # paragraphs start with an indented first line (wire-service style)
            new_paragraph = line.indent > margin
        else:
            new_paragraph = _intended_break(previous.text, line.text, width, settings)
        if new_paragraph or _LIST_ITEM_RE.match(line.text):
            paragraphs.append(_group(group))
            group = []
        group.append(line)
    paragraphs.append(_group(group))
    return paragraphs


def _group(lines: list[_Line]) -> _Paragraph:
    return _Paragraph(lines[0].start, lines[-1].end, len(lines), False,
                      bool(_LIST_ITEM_RE.match(lines[0].text)))


def _is_full(line: str, next_line: str, width: int) -> bool:
    """Whether the next line's first word would not have fitted on ``line`` (a wrapped line)."""
    first_word = next_line.split(maxsplit=1)[0] if next_line.strip() else ""
    return len(line) + 1 + len(first_word) > width


def _starts_sentence(line: str) -> bool:
    first = next((ch for ch in line if ch.isalnum()), "")
    return first.isupper() or first.isdigit()


def _intended_break(line: str, next_line: str, width: int, settings: SegmentSettings) -> bool:
    """In hard-wrapped text: the line stopped early, at a sentence end or as a short title line."""
    if _is_full(line, next_line, width):
        return False
    if _FINAL_RE.search(line):
        return True
    return len(line) < settings.short_line_share * width and _starts_sentence(next_line)


def _is_hard_wrapped(run: list[_Line], width: int, indented: bool, settings: SegmentSettings) -> bool:
    if not settings.min_wrapped_line_chars <= width <= settings.max_wrapped_line_chars:
        return False
    pairs = list(pairwise(run))
    final = sum(1 for line, _ in pairs if _FINAL_RE.search(line.text))
    if final >= settings.wrapped_final_share * len(pairs):
        return False
    if indented:
        return True
    full = sum(1 for line, nxt in pairs if _is_full(line.text, nxt.text, width))
    continued = sum(1 for _, nxt in pairs if not _starts_sentence(nxt.text))
    return full >= settings.full_line_share * len(pairs) or continued >= settings.full_line_share * len(pairs)


# --- roles ------------------------------------------------------------------------------------------

def _key(text: str) -> str:
    return _KEY_RE.sub(" ", text.casefold()).strip()


def _is_boilerplate(para: str, words: int, settings: SegmentSettings) -> bool:
    if words > settings.max_boilerplate_words:
        return False
    flat = " ".join(para.split())
    if _ANCHORED_RE.match(flat):
        return True
    lowered = flat.lower()
    if any(key in lowered for key in _FLOATING_KEYS) and any(p.search(flat) for p in _FLOATING_RES):
        return True
    return _is_byline(flat)


def _is_byline(line: str) -> bool:
    """``By Jane Doe``, ``By Jane Doe and John Roe, Reuters``: a name list after ``By``."""
    match = _BYLINE_RE.match(line)
    if not match or (_FINAL_RE.search(line) and not re.search(r"\b[A-Z]\.$", line)):
        return False
    tokens = re.findall(r"[^\s,;]+", match.group("names"))
    if not tokens or len(tokens) > 12:
        return False
    named = 0
    for token in tokens:
        bare = token.strip("()[]|:")
        if not bare or bare.lower() in _BYLINE_CONNECTORS or bare[0].isdigit():
            continue
        if not bare[0].isupper():
            return False
        named += 1
    return named >= 1


def _is_title_like(para: str, p: _Paragraph, words: int, max_words: int) -> bool:
    if p.lines != 1 or p.list_item or words == 0 or words > max_words:
        return False
    if _NOT_TITLE_END_RE.search(para) or _REPORTING_CLAUSE_RE.search(para) or para.count("|") >= 2:
        return False
    first = next((ch for ch in para if ch.isalnum()), "")
    return bool(first) and (first.isupper() or first.isdigit() or not first.islower())


def _roles(
    text: str, paragraphs: list[_Paragraph], title: str | None, settings: SegmentSettings
) -> list[Role]:
    n = len(paragraphs)
    paras = [text[p.start:p.end] for p in paragraphs]
    words = [len(para.split()) for para in paras]
    roles: list[Role] = ["body"] * n

    boiler = [_is_boilerplate(paras[i], words[i], settings) for i in range(n)]
    # The tail: paragraphs at the end that are boilerplate or short unpunctuated lines; from its
    # first boilerplate paragraph on, all of it is boilerplate.
    tail = n
    while tail > 0 and (
        boiler[tail - 1]
        or (words[tail - 1] <= settings.max_tail_words and not _FINAL_RE.search(paras[tail - 1]))
    ):
        tail -= 1
    first_boiler = next((i for i in range(tail, n) if boiler[i]), n)
    for i in range(first_boiler, n):
        boiler[i] = True

    keys = [_key(para) if i < 3 else "" for i, para in enumerate(paras)]
    title_key = _key(title) if title else ""
    title_like = [
        not boiler[i] and not p.heading and _is_title_like(
            paras[i], p, words[i], settings.max_title_words if i == 0 else settings.max_heading_words
        )
        for i, p in enumerate(paragraphs)
    ]
    for i, p in enumerate(paragraphs):
        if boiler[i]:
            roles[i] = "boilerplate"
            continue
        heading = p.heading
        if not heading and i < 3 and keys[i] and words[i] <= 2 * settings.max_title_words:
            heading = any(keys[j] == keys[i] for j in range(min(3, n)) if j != i)
        if not heading and title_key and p.lines == 1 and _key(paras[i]) == title_key:
            heading = True
        if not heading and title_like[i] and i + 1 < n:
            heading = _run_length(title_like, i) <= settings.max_heading_run
        if heading:
            roles[i] = "heading"
    return roles


def _run_length(flags: list[bool], i: int) -> int:
    """Length of the run of consecutive true flags that contains index ``i``."""
    start = i
    while start > 0 and flags[start - 1]:
        start -= 1
    end = i + 1
    while end < len(flags) and flags[end]:
        end += 1
    return end - start


# --- sentences --------------------------------------------------------------------------------------

_COURTESY_END_RE = re.compile(
    r"(?:^|\s)(?:Mr|Mrs|Ms|Mx|Dr|Prof|Gen|Sen|Rep|Gov|Lt|Col|Sgt|Capt|Cmdr|Adm|Maj|Rev|Fr|Hon|Pres|"
    r"Supt|Det|Insp|Atty|Amb|vs)\.$"
)
_NUMBERED_ABBR_END_RE = re.compile(
    r"(?:^|\s)(?:No|Nos|Art|Sec|Vol|p|pp|fig|Fig|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.$"
)
_QUOTE_BREAK_RE = re.compile(r"(?<=[a-z0-9%)][.!?][\"”’])\s+(?=[\"“‘]?[A-Z])")
_CLOSING = "\"'”’»)]"


def _sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans (document offsets) of the body paragraph ``text[start:end]``."""
    para = text[start:end]
    spans = _blingfire_spans(para)
    if spans is None:
        spans = _regex_spans(para)
    spans = _post_pass(para, spans)
    result = []
    for s, e in spans:
        chunk = para[s:e]
        s += len(chunk) - len(chunk.lstrip())
        e -= len(chunk) - len(chunk.rstrip())
        if e > s:
            result.append((start + s, start + e))
    return result or [(start, end)]


def blingfire_sentence_offsets(flat: str) -> list[tuple[int, int]] | None:
    """blingfire's sentence offsets (character offsets into ``flat``), or None on failure.

    Calls the C function directly: blingfire's Python wrapper maps byte offsets to character
    offsets with a Python loop over every byte, which cost more than the segmentation itself.
    """
    import ctypes

    import blingfire  # type: ignore[import-untyped]

    data = flat.encode("utf-8")
    size = len(data)
    if size == 0:
        return []
    capacity = size * 2 + 16
    out = ctypes.create_string_buffer(capacity)
    starts = (ctypes.c_int32 * capacity)()
    ends = (ctypes.c_int32 * capacity)()
    produced = blingfire.blingfire.TextToSentencesWithOffsets(
        ctypes.c_char_p(data), ctypes.c_int(size), ctypes.byref(out), ctypes.byref(starts),
        ctypes.byref(ends), ctypes.c_int(capacity),
    )
    if produced <= 0 or produced > capacity:
        return None
    count = out.value.count(b"\n") + 1
    ascii_only = size == len(flat)
    offsets: list[tuple[int, int]] = []
    last_byte = last_char = 0  # byte and character position of the previous sentence's end
    for k in range(count):
        start_byte, end_byte = starts[k], ends[k] + 1  # blingfire's end is the last byte
        if not last_byte <= start_byte < end_byte <= size:
            return None
        if ascii_only:
            offsets.append((start_byte, end_byte))
            continue
        try:
            start = last_char + len(data[last_byte:start_byte].decode("utf-8"))
            end = start + len(data[start_byte:end_byte].decode("utf-8"))
        except UnicodeDecodeError:
            return None
        offsets.append((start, end))
        last_byte, last_char = end_byte, end
    return offsets


def _blingfire_spans(para: str) -> list[tuple[int, int]] | None:
    """Sentence spans of ``para`` from blingfire, checked against the text; None when unusable."""
    flat = para.replace("\n", " ")  # same length: offsets stay valid
    try:
        offsets = blingfire_sentence_offsets(flat)
    except (OSError, AttributeError, ValueError):
        offsets = None
    if offsets is None:
        return _blingfire_wrapper_spans(flat)
    spans: list[tuple[int, int]] = []
    cursor = 0
    for s, e in offsets:
        if s < cursor or not flat[s:e].strip():
            return _blingfire_wrapper_spans(flat)
        spans.append((s, e))
        cursor = e
    return spans or None


def _blingfire_wrapper_spans(flat: str) -> list[tuple[int, int]] | None:
    """The slow path through blingfire's own wrapper, verified sentence by sentence."""
    import blingfire

    try:
        joined, offsets = blingfire.text_to_sentences_and_offsets(flat)
    except Exception:  # noqa: BLE001 - a C library on odd input; fall back to the regex splitter
        return None
    sentences = joined.split("\n") if joined else []
    if len(sentences) != len(offsets):
        return None
    spans: list[tuple[int, int]] = []
    cursor = 0
    for (s, e), sentence in zip(offsets, sentences):
        if not (cursor <= s <= e <= len(flat)) or flat[s:e] != sentence:
            found = flat.find(sentence, cursor) if sentence else -1
            if found < 0:
                return None
            s, e = found, found + len(sentence)
        spans.append((s, e))
        cursor = e
    return spans or None


_REGEX_SENTENCE_RE = re.compile(r"\S.*?(?:[.!?…]+[\"'”’»)\]]*(?=\s+[\"“‘(]?[A-Z0-9])|$)", re.DOTALL)


def _regex_spans(para: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _REGEX_SENTENCE_RE.finditer(para)] or [(0, len(para))]


def _post_pass(para: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Fix blingfire's habits: see the module docstring, "Sentences"."""
    if not any(q in para for q in "\"”’"):
        split = spans
    else:
        split = _split_after_quotes(para, spans)
    # Undo breaks after courtesy titles, and before lower-case continuations of quotes.
    merged: list[tuple[int, int]] = []
    for s, e in split:
        if merged:
            prev_tail = para[max(merged[-1][0], merged[-1][1] - 8):merged[-1][1]].rstrip()
            first = para[s:s + 1]
            join = (
                (first.islower() and prev_tail[-1:] in _CLOSING + "?!")
                or (first.isupper() and bool(_COURTESY_END_RE.search(prev_tail)))
                or (first.isdigit() and bool(_NUMBERED_ABBR_END_RE.search(prev_tail)))
            )
            if join:
                merged[-1] = (merged[-1][0], e)
                continue
        merged.append((s, e))
    return merged


def _split_after_quotes(para: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Split after a sentence-final closing quote followed by a capitalised word."""
    split: list[tuple[int, int]] = []
    for s, e in spans:
        cut = s
        for match in _QUOTE_BREAK_RE.finditer(para, s, e):
            split.append((cut, match.start()))
            cut = match.end()
        split.append((cut, e))
    return split
