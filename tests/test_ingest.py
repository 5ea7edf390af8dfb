"""Tests of the ingest stage: decoding, normalisation, formats, errors, and real HTML pages."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import sys
from collections import Counter
from pathlib import Path

import pytest

from retold.errors import ConfigError, InputError
from retold.ingest import load, load_bytes, normalise, sniff_format
from retold.ingest.text import decode
from retold.model import text_id

SHARED = Path(os.environ.get("RETOLD_SHARED", Path(__file__).resolve().parents[2] / "shared"))

STORY = (
    "The harbour authority of Port Velland said on Tuesday that the northern pier will reopen "
    "after repairs costing 4.2 million crowns. “We expect the first ferries by March,” said "
    "harbour master Ilse Brandvik."
)

# --- decoding ----------------------------------------------------------------------------------------


def test_utf8(tmp_path: Path) -> None:
    path = tmp_path / "story.txt"
    path.write_bytes(STORY.encode("utf-8"))
    doc = load(path)
    assert doc.text == STORY
    assert doc.name == str(path)
    assert doc.format == "text"
    assert doc.id == text_id(STORY)


def test_utf8_with_bom() -> None:
    doc = load_bytes(b"\xef\xbb\xbf" + STORY.encode("utf-8"), "bom.txt")
    assert doc.text == STORY


def test_cp1252_curly_quotes_and_accent() -> None:
    raw = b"The caf\xe9 owner said \x93business is slow\x94 this winter in Velland."
    doc = load_bytes(raw, "old.txt")
    assert doc.text == "The café owner said “business is slow” this winter in Velland."


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-16-le"])
def test_utf16_with_bom(encoding: str) -> None:
    data = STORY.encode(encoding)
    if encoding != "utf-16":
        data = ("\ufeff" + STORY).encode(encoding)
    assert load_bytes(data, "wide.txt").text == STORY


def test_cyrillic_legacy_encoding_is_detected() -> None:
    text = "Портовое управление сообщило во вторник, что северный причал откроется после ремонта. " * 2
    assert decode(text.encode("cp1251"), "ru.txt") == text


def test_binary_file_is_rejected() -> None:
    with pytest.raises(InputError, match="binary file") as info:
        load_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "image.txt")
    assert info.value.source == "image.txt"


def test_text_page_with_stray_nul_bytes_loads(shared_data: Path) -> None:
    # A real crawled page (PAN 2013) whose mangled Korean left 5 NUL bytes in valid UTF-8 text.
    path = shared_data / "pan13-train" / "susp" / "suspicious-document00078.txt"
    assert path.read_bytes().count(b"\x00") == 5
    text = load(path).text
    assert "SHOCKED that your friends didn\u2019t know" in text


def test_nul_bytes_in_valid_utf8_are_binary_when_many() -> None:
    # UTF-16 text without a byte-order mark is valid UTF-8 too, but every other byte is a NUL.
    data = "The port authority said the north pier would reopen. ".encode("utf-16-le") * 4
    with pytest.raises(InputError, match="binary file"):
        load_bytes(data, "story.txt")


@pytest.mark.parametrize("data", [b"", b"   \n\t\r\n  "])
def test_empty_file_is_rejected(data: bytes) -> None:
    with pytest.raises(InputError, match="empty file"):
        load_bytes(data, "empty.txt")


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "article.txt"
    with pytest.raises(InputError) as info:
        load(missing)
    assert str(missing) in str(info.value)
    assert "file not found" in str(info.value)


def test_missing_file_given_as_string_is_not_taken_for_text(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        load(str(tmp_path / "article.txt"))


def test_too_little_text() -> None:
    with pytest.raises(InputError, match="not an article: too little text"):
        load("Two words")


# --- sources -----------------------------------------------------------------------------------------


def test_string_is_text_and_document_passes_through() -> None:
    doc = load(STORY)
    assert doc.name == "<text>"
    assert load(doc) is doc
    assert load(STORY, name="wire").name == "wire"


def test_string_naming_a_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text(STORY, encoding="utf-8")
    assert load(str(path)).text == STORY


def test_bytes_source() -> None:
    assert load(STORY.encode("utf-8")).text == STORY


def test_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = io.TextIOWrapper(io.BytesIO(STORY.encode("utf-8")), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", fake)
    doc = load("-")
    assert doc.name == "-"
    assert doc.text == STORY


def test_markdown_keeps_heading_lines(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text("# Pier reopens\n\n" + STORY + "\n", encoding="utf-8")
    doc = load(path)
    assert doc.format == "markdown"
    assert doc.text.startswith("# Pier reopens\n\n")


def test_unknown_format_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        load_bytes(STORY.encode(), "a.txt", format="pdf")


# --- normalisation -----------------------------------------------------------------------------------


def test_normalise() -> None:
    raw = (
        "  Caf\u0065\u0301 Brandvik\u00a0said\u200b so.  \r\n"
        "Second\u2009line\u00adbreak\r\n\r\n\r\n\r\n"
        "“Quoted” text\u202fhere\rLast line\t \n"
    )
    assert normalise(raw) == (
        "Café Brandvik said so.\nSecond linebreak\n\n“Quoted” text here\nLast line"
    )


def test_normalise_is_idempotent_and_keeps_letters_and_quotes() -> None:
    raw = "Ärger „über” ‘quotes’ — Ελλάδα, 東京, e\u0301\u200b\u0301 test\r\n\r\n\r\nend"
    once = normalise(raw)
    assert normalise(once) == once
    for ch in "Ä„”‘’—Ελάδ東京":
        assert ch in once


def test_offsets_refer_to_normalised_text() -> None:
    raw = "Port\u00a0Velland\u200b reopens.\r\n\r\nThe caf\u0065\u0301 is open again today."
    doc = load(raw)
    assert doc.text == "Port Velland reopens.\n\nThe café is open again today."
    start = doc.text.index("café")
    assert doc.text[start : start + 4] == "café"
    assert doc.id == text_id(doc.text)


# --- JSON --------------------------------------------------------------------------------------------


def test_json_object() -> None:
    record = {"title": "Pier reopens", "published": "2024-02-06", "text": STORY, "url": "https://x.test/a"}
    doc = load_bytes(json.dumps(record).encode(), "story.json")
    assert doc.format == "json"
    assert doc.text == STORY
    assert doc.title == "Pier reopens"
    assert doc.published == "2024-02-06"
    assert doc.url == "https://x.test/a"
    assert doc.id == text_id(STORY)


def test_json_id_is_kept_and_sniffed_without_extension() -> None:
    doc = load(json.dumps({"id": "wire-7", "text": STORY}))
    assert doc.id == "wire-7"
    assert doc.format == "json"


def test_invalid_json() -> None:
    with pytest.raises(InputError, match="invalid JSON: ") as info:
        load_bytes(b'{"text": "unterminated', "bad.json")
    assert info.value.source == "bad.json"


def test_json_without_text() -> None:
    with pytest.raises(InputError, match="JSON object has no 'text' field"):
        load_bytes(b'{"title": "Pier reopens"}', "notext.json")


# --- HTML --------------------------------------------------------------------------------------------

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Velland pier to reopen after repairs | Velland Courier</title>
<meta name="author" content="Ilse Marten">
<meta property="og:site_name" content="Velland Courier">
<meta property="og:title" content="Velland pier to reopen after repairs">
<meta property="article:published_time" content="2024-02-06T09:30:00Z">
<link rel="canonical" href="https://courier.example/velland-pier">
</head>
<body>
<nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a></nav>
<main>
<article>
<h1>Velland pier to reopen after repairs</h1>
<p class="byline">By Ilse Marten</p>
<p>The harbour authority of Port Velland said on Tuesday that the northern pier will reopen in
March after repairs costing 4.2 million crowns, ending a closure that lasted nearly two years.</p>
<p>“We expect the first ferries to dock by the middle of March,” harbour master Ilse Brandvik told
reporters at the quay, adding that freight traffic would follow in April.</p>
<h2>Storm damage</h2>
<p>The pier was closed after a winter storm undermined its foundations and washed away part of the
deck. Engineers drove forty new steel piles into the seabed over the summer.</p>
<p>Local fishermen, who had to land their catch at the smaller southern jetty, welcomed the news but
said the repairs had taken far longer than the authority first promised.</p>
</article>
<section id="comments" class="comments-area">
<h3>3 Comments</h3>
<div class="comment"><p>Otto K. wrote: Finally! About time this pier was fixed, the southern jetty is a mess.</p></div>
<div class="comment"><p>Marit L. wrote: My grandfather built boats next to that pier, glad to see it back.</p></div>
<div class="comment"><p>Jon P. wrote: Four million crowns for a pier seems like a waste of taxpayer money.</p></div>
<h3>Leave a Reply</h3>
<form><textarea name="comment"></textarea><input type="submit" value="Post Comment"></form>
</section>
</main>
<footer><p>© 2024 Velland Courier. All rights reserved.</p></footer>
</body>
</html>
"""


def test_html_page_without_a_date_gets_none_not_one_read_from_its_text() -> None:
    paragraphs = "".join(
        f"<p>{p}</p>"
        for p in (
            "The harbour board approved the dredging plan on Tuesday after a long public review.",
            "Fishers said the works would break Regulation 14/2019, which protects the sand eel.",
            "The board said it would publish its environmental plan next month, as the rules require.",
        )
    )
    page = f"<html><head><title>Dredging approved</title></head><body><article>{paragraphs}</article></body></html>"
    assert load_bytes(page.encode("utf-8"), "dredge.html").published is None
    dated = page.replace("</title>", '</title><meta property="article:published_time" content="2024-04-15">')
    assert load_bytes(dated.encode("utf-8"), "dredge.html").published == "2024-04-15"


def test_html_page() -> None:
    doc = load_bytes(PAGE.encode("utf-8"), "pier.html")
    assert doc.format == "html"
    assert doc.title == "Velland pier to reopen after repairs"
    assert doc.author == "Ilse Marten"
    assert doc.published is not None and doc.published.startswith("2024-02-06")
    assert doc.site == "Velland Courier"
    assert doc.url == "https://courier.example/velland-pier"
    assert "northern pier will reopen in March" in doc.text
    assert "forty new steel piles" in doc.text
    # the comment section stays out
    for comment in ("About time this pier", "grandfather built boats", "waste of taxpayer", "Leave a Reply"):
        assert comment not in doc.text
    # the title is the first line, paragraphs are separated by blank lines, headings on their own line
    assert doc.text.splitlines()[0].lstrip("# ") == "Velland pier to reopen after repairs"
    assert doc.text.count("Velland pier to reopen after repairs") == 1
    assert "\n\n“We expect the first ferries" in doc.text
    assert re.search(r"(?m)^#* ?Storm damage$", doc.text)


def test_html_title_prepended_when_missing() -> None:
    page = PAGE.replace("<h1>Velland pier to reopen after repairs</h1>", "")
    doc = load_bytes(page.encode("utf-8"), "pier.htm")
    assert doc.text.startswith("Velland pier to reopen after repairs\n\n")


def test_html_sniffed_from_content() -> None:
    assert sniff_format(PAGE) == "html"
    assert load(PAGE).format == "html"
    assert sniff_format("Plain <b>text</b> about a pier.") == "text"


def test_html_without_article() -> None:
    page = "<html><head><title>Nothing</title></head><body><nav><a href='/'>Home</a></nav></body></html>"
    with pytest.raises(InputError, match="no article text found in HTML page"):
        load_bytes(page.encode(), "empty.html")


def test_html_declared_legacy_charset() -> None:
    page = PAGE.replace('<meta charset="utf-8">', '<meta charset="iso-8859-1">').replace("“", '"').replace("”", '"')
    page = page.replace("harbour master Ilse", "harbour master Ilsé")
    doc = load_bytes(page.encode("cp1252"), "legacy.html")
    assert "harbour master Ilsé Brandvik" in doc.text


def _tokens(text: str) -> Counter[str]:
    return Counter(re.findall(r"\w+", text.lower()))


@pytest.mark.skipif(not (SHARED / "data" / "html" / "ground-truth.json").exists(),
                    reason="shared HTML benchmark not available")
def test_real_pages_recall() -> None:
    folder = SHARED / "data" / "html"
    truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    pages = sorted((folder / "html").glob("*.html.gz"))[:8]
    assert pages
    for page in pages:
        page_id = page.name.split(".")[0]
        doc = load_bytes(gzip.decompress(page.read_bytes()), page.name[: -len(".gz")])
        expected = _tokens(truth[page_id]["articleBody"])
        got = _tokens(doc.text)
        recall = sum((expected & got).values()) / sum(expected.values())
        assert recall > 0.8, (page.name, recall)
        assert doc.title
