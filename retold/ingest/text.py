"""Plain text: decoding bytes, normalising text, and building a :class:`~retold.model.Document`.

Every reader (text, Markdown, HTML, JSON) ends in :func:`make_document`, which applies
:func:`normalise` exactly once, so that every offset in retold refers to the same normalised text.

Decoding order (:func:`decode`):

1. a byte-order mark decides: UTF-32, UTF-8 or UTF-16;
2. NUL bytes or many control bytes mean a binary file (a few stray NULs in valid UTF-8 do not);
3. strict UTF-8;
4. Windows-1252 when it decodes cleanly and looks like Western text (non-ASCII letters are a
   minority of the letters and every non-ASCII character is a Latin letter or typographic mark);
   charset-normalizer alone is unreliable on short Western texts (it prefers cp1250/mac_latin2);
5. charset-normalizer's best guess (Cyrillic, Greek, CJK legacy encodings, ...);
6. Windows-1252, then Latin-1 unless that yields C1 control characters.

Mojibake repair (UTF-8 read as cp1252 upstream, "Ã©" for "é") is not attempted: ftfy is not a
dependency, and repairing would alter letters the source actually published.
"""

from __future__ import annotations

import re
import unicodedata

from retold.errors import InputError
from retold.model import Document, text_id

__all__ = ["MIN_WORDS", "check_text", "count_words", "decode", "make_document", "normalise", "read"]

MIN_WORDS = 3
"""An input with fewer words than this is not an article."""

_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)

# Bytes that never occur in text files (C0 controls except tab, LF, VT, FF, CR, ESC; and DEL).
_CONTROL_BYTES = bytes(sorted(set(range(0x20)) - {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1B} | {0x7F}))
# Whitespace and escape characters that text may hold although str.isprintable() says otherwise.
_ALLOWED_CONTROLS = str.maketrans("", "", "\t\n\r\f\v\x1b")
_MAX_CONTROL_SHARE = 0.10
_MAX_NUL_BYTES = 4
# Past _MAX_NUL_BYTES, NULs are still stray when the file is valid UTF-8 and control bytes (NULs
# included) stay under this share: binary data is almost never valid UTF-8.
_MAX_STRAY_CONTROL_SHARE = 0.01
_SNIFF_BYTES = 65536

# Non-ASCII characters that Western (cp1252) text plausibly contains besides Latin letters.
_WESTERN_MARKS = set("\u00a0\u00a9\u00ae\u00b0\u00b1\u00b7\u00ab\u00bb\u00bf\u00a1\u00a3\u00a5\u00a7"
                     "\u00b2\u00b3\u00b9\u00bc\u00bd\u00be\u00d7\u00f7\u00b5\u00b6\u00ba\u00aa"
                     "\u2018\u2019\u201a\u201c\u201d\u201e\u2013\u2014\u2026\u2020\u2021\u2022"
                     "\u2030\u2039\u203a\u20ac\u2122\u02c6\u02dc\u00a2\u00a4\u00a6\u00a8\u00ac"
                     "\u00ad\u00af\u00b4\u00b8")
_MAX_NON_ASCII_LETTER_SHARE = 0.30


def decode(data: bytes, name: str) -> str:
    """Decode the bytes of a text file.

    Args:
        data: the raw bytes.
        name: the file name, used in error messages.

    Returns:
        The decoded text (not yet normalised).

    Raises:
        InputError: ``empty file``, ``binary file`` or ``cannot decode ...``.

    Example:
        >>> decode("caf\\u00e9".encode("cp1252"), "a.txt")
        'café'
    """
    if not data.strip():
        raise InputError(name, "empty file")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise InputError(name, f"cannot decode as {encoding}: {exc.reason}") from exc
            return check_text(text, name)
    head = data[:_SNIFF_BYTES]
    utf8 = _try_decode(data, "utf-8")
    # Stray NUL and control bytes occur in real corpora (PAN 2013 has pages with up to 7 NULs
    # among otherwise valid UTF-8 text); binary files have many, and are rarely valid UTF-8.
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    stray = utf8 is not None and controls <= _MAX_STRAY_CONTROL_SHARE * len(head)
    if (head.count(b"\x00") > _MAX_NUL_BYTES and not stray) or controls > _MAX_CONTROL_SHARE * len(head):
        raise InputError(name, "binary file")
    if utf8 is not None:
        return check_text(utf8, name)
    western = _try_decode(data, "cp1252")
    if western is not None and _looks_western(western):
        return check_text(western, name)
    guessed = _charset_normalizer_guess(data)
    if guessed is not None:
        return check_text(guessed, name)
    if western is not None:
        return check_text(western, name)
    latin = data.decode("latin-1")
    c1 = sum(0x80 <= ord(ch) <= 0x9F for ch in latin)
    if c1 > 0.01 * len(latin):
        raise InputError(name, "cannot decode: not UTF-8 and no known encoding fits")
    return check_text(latin, name)


def _try_decode(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def _looks_western(text: str) -> bool:
    letters = 0
    non_ascii_letters = 0
    for ch in text:
        if ch.isascii():
            letters += ch.isalpha()
            continue
        if ch.isalpha():
            if ord(ch) > 0x24F:  # beyond Latin Extended-B
                return False
            letters += 1
            non_ascii_letters += 1
        elif ch not in _WESTERN_MARKS:
            return False
    return letters > 0 and non_ascii_letters <= _MAX_NON_ASCII_LETTER_SHARE * letters


def _charset_normalizer_guess(data: bytes) -> str | None:
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    return None if best is None else str(best)


def check_text(text: str, name: str) -> str:
    """Raise ``empty file`` or ``binary file`` for decoded text that is not text; else return it."""
    if not text.strip():
        raise InputError(name, "empty file")
    sample = text[:_SNIFF_BYTES]
    if sample.translate(_ALLOWED_CONTROLS).isprintable():
        return text  # the common case, checked in C: no control, unassigned or separator character
    bad = sum(1 for ch in sample if _is_unprintable(ch))
    if bad > _MAX_CONTROL_SHARE * len(sample):
        raise InputError(name, "binary file")
    return text


def _is_unprintable(ch: str) -> bool:
    if ch in "\t\n\r\f\v\x1b":
        return False
    return unicodedata.category(ch) in ("Cc", "Cs", "Cn") and not ch.isprintable()


# --- normalisation -------------------------------------------------------------------------------

# Unicode space separators (Zs) other than the plain space, plus the line/paragraph separators.
_SPACES_RE = re.compile("[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
# Zero-width space, word joiner, zero-width no-break space (BOM), Mongolian vowel separator,
# soft hyphen. ZWJ/ZWNJ (U+200D/U+200C) are kept: they are part of spelling in Persian,
# Indic scripts and emoji sequences.
_INVISIBLE_RE = re.compile("[\u200b\u2060\ufeff\u180e\u00ad]")
_LINE_END_RE = re.compile("\r\n?|[\u2028\u0085\v\f]")
_TRAILING_SPACE_RE = re.compile("[ \t]+$", re.MULTILINE)
_BLANK_RUN_RE = re.compile("\n{3,}")


def normalise(text: str) -> str:
    """Normalise article text; every offset in retold refers to the result.

    Line ends become ``\\n`` (also U+2028, NEL, VT, FF; U+2029 ends a paragraph); no-break and
    other Unicode spaces become a plain space; zero-width spaces, word joiners, BOMs and soft
    hyphens are removed; the text is put in Unicode NFC; trailing spaces and tabs at line ends are
    stripped; runs of blank lines become one blank line; leading and trailing whitespace is
    stripped. Quote characters, dashes and letters are never changed. Idempotent.

    Example:
        >>> normalise("Caf\\u0065\\u0301\\u00a0au lait\\r\\n\\r\\n\\r\\n\\r\\nNext ")
        'Café au lait\\n\\nNext'
    """
    text = _LINE_END_RE.sub("\n", text).replace("\u2029", "\n\n")
    text = _SPACES_RE.sub(" ", text)
    text = _INVISIBLE_RE.sub("", text)
    text = unicodedata.normalize("NFC", text)
    text = _TRAILING_SPACE_RE.sub("", text)
    text = _BLANK_RUN_RE.sub("\n\n", text)
    return text.strip()


_WORD_RE = re.compile(r"\w+")


def count_words(text: str) -> int:
    """Number of ``\\w+`` words in ``text``."""
    return sum(1 for _ in _WORD_RE.finditer(text))


def _clean_field(value: object) -> str | None:
    if value is None:
        return None
    cleaned = normalise(str(value))
    return cleaned or None


def make_document(
    text: str,
    name: str,
    format: str,
    *,
    id: str | None = None,
    title: object = None,
    url: object = None,
    published: object = None,
    author: object = None,
    site: object = None,
) -> Document:
    """Normalise ``text`` (once) and wrap it with its metadata in a :class:`Document`.

    Raises:
        InputError: ``not an article: too little text`` when fewer than three words remain.
    """
    normalised = normalise(text)
    if count_words(normalised) < MIN_WORDS:
        raise InputError(name, "not an article: too little text")
    return Document(
        text=normalised,
        id=str(id) if id is not None and str(id).strip() else text_id(normalised),
        name=name,
        title=_clean_field(title),
        url=_clean_field(url),
        published=_clean_field(published),
        author=_clean_field(author),
        site=_clean_field(site),
        format=format,
    )


def read(text: str, name: str, format: str = "text") -> Document:
    """Build a document from plain text or Markdown (kept as is; headings stay ``#`` lines)."""
    return make_document(text, name, format)
