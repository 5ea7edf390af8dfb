"""Tests of ingest at scale: WARC/ARC archives, JSON Lines, folders, globs, stdin and the report."""

from __future__ import annotations

import gzip
import io
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from retold.errors import InputError
from retold.ingest import IngestReport, iter_documents
from retold.ingest.jsonl import read_jsonl
from retold.ingest.warc import iso_date, read_warc

STORY = (
    "The harbour authority of Port Velland said on Tuesday that the northern pier will reopen "
    "after repairs costing 4.2 million crowns. “We expect the first ferries by March,” said "
    "harbour master Ilse Brandvik. The pier was closed two winters ago after a storm damaged its pilings."
)
LATER = (
    "Ferry operators in Port Velland welcomed the decision on Wednesday, saying that bookings for "
    "the spring season had already doubled. The company Nordlys Lines plans four crossings a day."
)


def _page(title: str, body: str) -> bytes:
    paragraphs = "".join(f"<p>{sentence}.</p>" for sentence in body.split(". "))
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>" + title + "</title></head>"
        "<body><nav><a href='/'>Home</a> | <a href='/news'>News</a></nav><article><h1>" + title
        + "</h1>" + paragraphs + "</article><footer>Contact us</footer></body></html>"
    ).encode("utf-8")


def _write_warc(path: Path) -> int:
    """A small gzipped WARC: warcinfo, request, HTML response, revisit, PNG response, 404 page.

    Returns the size in bytes of the intact part.
    """
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True)

    def response(uri: str, payload: bytes, content_type: str, status: str = "200 OK") -> None:
        headers = StatusAndHeaders(status, [("Content-Type", content_type)], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(
            uri, "response", payload=io.BytesIO(payload), http_headers=headers,
            warc_headers_dict={"WARC-Date": "2024-03-01T10:00:00Z"}))

    writer.write_record(writer.create_warcinfo_record(path.name, {"software": "retold-tests"}))
    request = StatusAndHeaders("GET /news/pier HTTP/1.1", [("Host", "velland.example")],
                               is_http_request=True)
    writer.write_record(writer.create_warc_record("https://velland.example/news/pier", "request",
                                                  http_headers=request))
    response("https://velland.example/news/pier", _page("Northern pier to reopen", STORY),
             "text/html; charset=utf-8")
    writer.write_record(writer.create_revisit_record(
        "https://velland.example/news/pier", "sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "https://velland.example/news/pier", "2024-03-01T10:00:00Z"))
    response("https://velland.example/logo.png", b"\x89PNG\r\n\x1a\n....", "image/png")
    response("https://velland.example/gone", _page("Gone", STORY), "text/html", "404 Not Found")
    path.write_bytes(buffer.getvalue())
    return len(buffer.getvalue())


def _gzip_member(uri: str, payload: bytes) -> bytes:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True)
    headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
    writer.write_record(writer.create_warc_record(uri, "response", payload=io.BytesIO(payload),
                                                  http_headers=headers))
    return buffer.getvalue()


# --- WARC: a file written here ---------------------------------------------------------------------


def test_warc_records_are_read_or_skipped_by_reason(tmp_path: Path) -> None:
    path = tmp_path / "crawl.warc.gz"
    _write_warc(path)
    report = IngestReport()
    docs = list(iter_documents([path], report=report))
    assert len(docs) == 1
    doc = docs[0]
    assert doc.name == f"{path}#record3"
    assert doc.url == "https://velland.example/news/pier"
    assert doc.site == "velland.example"
    assert doc.published == "2024-03-01T10:00:00Z"  # no date in the page: the WARC-Date
    assert doc.format == "warc"
    assert "harbour master Ilse Brandvik" in doc.text
    assert "Contact us" not in doc.text
    assert report.skipped == {"warcinfo record": 1, "request record": 1, "revisit record": 1,
                              "non-HTML response": 1, "HTTP status not 200": 1}
    assert report.error_count == 0
    assert report.files == {"warc": 1}


def test_warc_corrupt_gzip_is_reported_and_reading_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "damaged.warc.gz"
    intact = _write_warc(path)
    later = _gzip_member("https://velland.example/news/ferries", _page("Ferries return", LATER))
    with path.open("ab") as fh:
        fh.write(later[: len(later) // 2])  # a truncated member ...
        fh.write(later)  # ... then an intact one
    report = IngestReport()
    docs = list(iter_documents([path], report=report))
    assert [d.url for d in docs] == ["https://velland.example/news/pier",
                                     "https://velland.example/news/ferries"]
    assert report.error_count == 1
    source, position, problem = report.errors[0]
    assert source == str(path)
    assert position == f"record 7 (byte {intact})"
    assert problem.startswith(("corrupt gzip stream", "malformed record"))
    assert docs[1].name == f"{path}#record8"


def test_warc_truncated_at_the_end_keeps_earlier_records(tmp_path: Path) -> None:
    path = tmp_path / "truncated.warc.gz"
    intact = _write_warc(path)
    with path.open("ab") as fh:
        fh.write(gzip.compress(b"WARC/1.0\r\nWARC-Type: response\r\n" + b"x" * 4000)[:60])
    errors: list[InputError] = []
    docs = list(read_warc(path, on_error=errors.append))
    assert len(docs) == 1
    assert len(errors) == 1
    assert str(errors[0]).startswith(f"{path} record 7 (byte {intact}): ")
    assert errors[0].problem.startswith(("corrupt gzip stream", "malformed record"))


def test_warc_strict_raises_the_first_error(tmp_path: Path) -> None:
    path = tmp_path / "damaged.warc.gz"
    _write_warc(path)
    with path.open("ab") as fh:
        fh.write(b"\x1f\x8b\x08\x00garbage that is not deflate data")
    with pytest.raises(InputError) as caught:
        list(iter_documents([path], strict=True))
    assert caught.value.source == str(path)
    assert caught.value.position is not None and caught.value.position.startswith("record 7")


def test_uncompressed_warc_and_iso_dates(tmp_path: Path) -> None:
    path = tmp_path / "crawl.warc"
    path.write_bytes(gzip.decompress(_gzip_member("https://velland.example/a", _page("Pier", STORY))))
    docs = list(read_warc(path))
    assert [d.url for d in docs] == ["https://velland.example/a"]
    # many records in one gzip member (not per record): read as one stream
    one_member = tmp_path / "one-member.warc.gz"
    raw = b"".join(gzip.decompress(_gzip_member(f"https://velland.example/{n}", _page("Pier", text)))
                   for n, text in enumerate((STORY, LATER, STORY)))
    one_member.write_bytes(gzip.compress(raw))
    errors: list[InputError] = []
    docs = list(read_warc(one_member, on_error=errors.append))
    assert [d.name[-8:] for d in docs] == ["#record1", "#record2", "#record3"] and not errors
    assert iso_date("2008-10-294T05:21:46-0700") is None  # the ClueWeb09 quirk
    assert iso_date("2014-03-25T12:12:25Z") == "2014-03-25T12:12:25Z"


# --- WARC: the real files --------------------------------------------------------------------------


def _read_one(path: str) -> tuple[int, int, IngestReport, list[tuple[str, str | None, str | None]]]:
    from warcio.archiveiterator import ArchiveIterator

    with open(path, "rb") as fh:
        records = sum(1 for _ in ArchiveIterator(fh, arc2warc=True))
    report = IngestReport()
    docs = [(d.name, d.url, d.published) for d in iter_documents([path], report=report)]
    return records, len(docs), report, docs


def test_real_warc_files_all_read_with_consistent_counts(shared_data: Path) -> None:
    files = sorted(str(p) for p in (shared_data / "warc").rglob("*.gz"))
    assert len(files) == 14
    import trafilatura  # noqa: F401 - imported once here, so that forked workers start warm

    by_size = sorted(files, key=lambda p: -Path(p).stat().st_size)  # the slowest start first
    with ProcessPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        results = dict(zip(by_size, pool.map(_read_one, by_size)))
    total_docs = 0
    for path, (records, n_docs, report, docs) in results.items():
        assert report.error_count == 0, (path, report.errors)
        assert report.documents == n_docs
        assert n_docs + sum(report.skipped.values()) == records, path
        assert report.files == {"warc": 1}
        for name, url, published in docs:
            assert name.startswith(path + "#record")
            assert url and url.startswith("http")
            assert published is None or iso_date(published[:10]) is not None
        total_docs += n_docs
    by_name = {Path(p).name: result for p, result in results.items()}
    revisits = by_name["BL-20140325122341434-00000-32090~opera~8443.warc.gz"][2]
    assert revisits.skipped["revisit record"] == 55
    arc = by_name["IAH-20080430204825-00000-blackbook-truncated.arc.gz"]
    assert arc[1] == 2  # the ARC file reads like its WARC twin
    assert by_name["IAH-20080430204825-00000-blackbook-truncated.warc.gz"][1] == 2
    clueweb = by_name["clueweb-quirk.warc.gz"]
    assert clueweb[1] == 29  # malformed WARC-Date, EUC-JP pages
    assert total_docs == sum(r[1] for r in results.values()) > 90


# --- JSON Lines ------------------------------------------------------------------------------------


def _jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_jsonl_malformed_line_is_reported_with_its_number(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "feed.jsonl", [
        json.dumps({"id": "wire-1", "title": "Pier", "published": "2024-03-01", "text": STORY}),
        '{"id": "wire-2", "text": "broken',
        "",
        json.dumps({"id": "wire-3", "text": None, "title": "No body"}),
        json.dumps({"text": LATER, "date": "1987-02-26T15:01:01", "site": "Velland Post"}),
        json.dumps({"id": "wire-5", "text": 42}),
    ])
    report = IngestReport()
    docs = list(iter_documents([path], report=report))
    assert docs[0].id == "wire-1"
    assert [d.name for d in docs] == [f"{path}#line1", f"{path}#line5"]
    assert docs[1].published == "1987-02-26T15:01:01"  # date, when published is absent
    assert docs[1].site == "Velland Post"
    assert docs[1].format == "jsonl"
    assert report.skipped == {"no text": 1}
    assert report.error_count == 2
    assert report.errors[0][:2] == (str(path), "line 2")
    assert report.errors[0][2].startswith("invalid JSON")
    assert report.errors[1][1] == "line 6"


def test_jsonl_strict_message(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "feed.jsonl", [json.dumps({"text": STORY}), "{not json"])
    with pytest.raises(InputError) as caught:
        list(iter_documents([path], strict=True))
    assert str(caught.value).startswith(f"{path} line 2: invalid JSON")


def test_jsonl_gz(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl.gz"
    path.write_bytes(gzip.compress((json.dumps({"text": STORY}) + "\n").encode()))
    assert [d.text for d in read_jsonl(path)] == [STORY]


def test_real_bbc_jsonl(shared_data: Path) -> None:
    report = IngestReport()
    docs = list(iter_documents([shared_data / "news" / "bbc-2004-2005.jsonl"], report=report))
    assert len(docs) == report.documents == 2225
    assert len({d.id for d in docs}) == 2225  # the records' own ids
    assert docs[0].id == "business/001" and docs[0].title == "Ad sales boost Time Warner profit"
    assert report.error_count == 0 and not report.skipped


@pytest.mark.slow
def test_real_reuters_jsonl(shared_data: Path) -> None:
    report = IngestReport()
    count = 0
    first = None
    for doc in iter_documents([shared_data / "news" / "reuters-21578.jsonl"], report=report):
        first = first or doc
        count += 1
    assert report.error_count == 0
    assert count + sum(report.skipped.values()) == 21578
    assert report.skipped["no text"] == 21578 - 19043
    assert first is not None and first.published == "1987-02-26T15:01:01"


# --- folders, globs, stdin, report -----------------------------------------------------------------


def _tree(root: Path) -> None:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / "b.txt").write_text(STORY, encoding="utf-8")
    (root / "sub" / "a.md").write_text("# Pier\n\n" + LATER, encoding="utf-8")
    (root / "sub" / "deeper" / "feed.jsonl").write_text(
        json.dumps({"id": "j1", "text": STORY}) + "\n" + json.dumps({"id": "j2", "text": LATER}) + "\n",
        encoding="utf-8")
    (root / "sub" / "deeper" / "page.html.gz").write_bytes(gzip.compress(_page("Pier", STORY)))
    (root / "sub" / "empty.txt").write_text("   ", encoding="utf-8")
    (root / ".hidden" / "secret.txt").write_text(STORY, encoding="utf-8")
    (root / "logo.png").write_bytes(b"\x89PNG")


def test_folder_recursion_is_sorted_and_filtered(tmp_path: Path) -> None:
    _tree(tmp_path)
    report = IngestReport()
    docs = list(iter_documents([tmp_path], report=report))
    names = [Path(d.name.split("#")[0]).relative_to(tmp_path).as_posix() for d in docs]
    assert names == ["b.txt", "sub/a.md", "sub/deeper/feed.jsonl", "sub/deeper/feed.jsonl",
                     "sub/deeper/page.html"]
    assert [d.id for d in docs][2:4] == ["j1", "j2"]
    assert report.files == {"text": 1, "markdown": 1, "jsonl": 1, "html": 1}
    assert report.error_count == 1 and report.errors[0][2] == "empty file"
    assert report.documents_by_format == {"text": 1, "markdown": 1, "jsonl": 2, "html": 1}


def test_globs_missing_paths_and_repeats(tmp_path: Path) -> None:
    _tree(tmp_path)
    report = IngestReport()
    docs = list(iter_documents(
        [str(tmp_path / "**" / "*.md"), tmp_path / "b.txt", str(tmp_path / "b.txt"),
         str(tmp_path / "nothing-*.txt"), str(tmp_path / "missing.txt")],
        report=report))
    assert [Path(d.name).name for d in docs] == ["a.md", "b.txt"]  # b.txt read once
    assert [e[2] for e in report.errors] == ["no file matches this pattern", "file not found"]
    with pytest.raises(InputError):
        list(iter_documents([tmp_path / "missing.txt"], strict=True))


class _Stdin:
    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)


def test_stdin_jsonl(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [json.dumps({"id": "s1", "text": STORY}), "{oops", json.dumps({"id": "s3", "text": LATER})]
    monkeypatch.setattr(sys, "stdin", _Stdin(("\n" + "\n".join(lines) + "\n").encode()))
    report = IngestReport()
    docs = list(iter_documents(["-"], report=report))
    assert [d.id for d in docs] == ["s1", "s3"]
    assert [d.name for d in docs] == ["-#line2", "-#line4"]
    assert report.errors == [("-", "line 3", report.errors[0][2])]
    assert report.files == {"jsonl": 1}


def test_stdin_single_article(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", _Stdin(STORY.encode()))
    docs = list(iter_documents(["-"]))
    assert [d.text for d in docs] == [STORY] and docs[0].name == "-"
    pretty = json.dumps({"title": "Pier", "text": STORY}, indent=2)  # one object over many lines
    monkeypatch.setattr(sys, "stdin", _Stdin(pretty.encode()))
    docs = list(iter_documents(["-"]))
    assert [(d.title, d.format) for d in docs] == [("Pier", "json")]


def test_report_summary_and_error_cap(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "bad.jsonl", ["{"] * 1005 + [json.dumps({"text": STORY, "url": None})])
    report = IngestReport()
    docs = list(iter_documents([path], report=report))
    assert len(docs) == 1
    assert report.error_count == 1005 and len(report.errors) == 1000
    summary = report.summary()
    assert summary.startswith("Read 1 document from 1 file (jsonl 1).")
    assert f"1,005 errors; the first: {path} line 1: invalid JSON" in summary
