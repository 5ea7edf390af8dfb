"""PAN XML reading and writing, corpus reading and the evaluate_pan runner.

Exact checks run on a tiny fictional corpus built in tmp_path; behaviour checks run on three real
PAN 2013 pairs read from ../shared/data (skipped when the data is not there).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retold.errors import InputError
from retold.eval.baseline import BaselineSettings, detect_passages
from retold.eval.pan import (
    DETECTION_FEATURE,
    evaluate_pan,
    read_annotations,
    read_corpus,
    read_text,
    write_detections,
)
from retold.model import Span

PHRASE = "The harbour bell of Calloway rang twelve times before the ferry left at dawn."


def test_write_then_read_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "out" / "suspicious-document00007-source-document00042.xml"
    write_detections(
        path,
        "suspicious-document00007.txt",
        "source-document00042.txt",
        [(Span(10, 60), Span(200, 240)), (3000, 15, 7, 9)],
    )
    assert not [
        p for p in path.parent.iterdir() if p != path
    ]  # no temporary file left over
    doc = read_annotations(path, DETECTION_FEATURE)
    assert doc.reference == "suspicious-document00007.txt"
    assert doc.annotations() == [(10, 50, 200, 40), (3000, 15, 7, 9)]
    assert {f.source_reference for f in doc.features} == {"source-document00042.txt"}
    # the truth feature name is not the detection feature name
    assert read_annotations(path).features == ()


def test_empty_detection_file(tmp_path: Path) -> None:
    path = write_detections(
        tmp_path / "x.xml", "suspicious-document1.txt", "source-document2.txt", []
    )
    doc = read_annotations(path, DETECTION_FEATURE)
    assert (doc.reference, doc.features) == ("suspicious-document1.txt", ())


def test_read_truth_ignores_other_features(tmp_path: Path) -> None:
    path = tmp_path / "t.xml"
    path.write_text(
        '<document  reference="suspicious-document00008.txt">\n'
        '\t<feature  name="about" authors="DUC2001" title="news" language="en" />\n'
        '\t<feature  name="md5" value="d01b" language="en" />\n'
        '\t<feature  name="plagiarism" type="artificial" obfuscation="summary" this_offset="3822"'
        ' this_length="593" source_reference="source-document00305.txt" source_offset="0"'
        ' source_length="5861" />\n'
        "</document>\n",
        encoding="utf-8",
    )
    doc = read_annotations(path)
    assert doc.annotations() == [(3822, 593, 0, 5861)]
    assert doc.annotations("source-document00305.txt") == [(3822, 593, 0, 5861)]
    assert doc.annotations("source-document99999.txt") == []


def test_bad_xml_raises_input_error(tmp_path: Path) -> None:
    (tmp_path / "bad.xml").write_text(
        "<document reference='x'><feature", encoding="utf-8"
    )
    with pytest.raises(InputError, match="invalid XML"):
        read_annotations(tmp_path / "bad.xml")
    with pytest.raises(InputError, match="file not found"):
        read_annotations(tmp_path / "missing.xml")
    (tmp_path / "nan.xml").write_text(
        '<document reference="s.txt"><feature name="plagiarism" this_offset="x" this_length="1"'
        ' source_reference="r.txt" source_offset="0" source_length="1"/></document>',
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="non-integer"):
        read_annotations(tmp_path / "nan.xml")


# ----------------------------------------------------------------- a fictional corpus


def _make_corpus(root: Path) -> None:
    """Two categories: one pair with a planted copied sentence, one pair without.

    The suspicious text of the plagiarised pair carries a control character and a CRLF before the
    copied sentence, so offsets only match when the file is read without newline translation.
    """
    (root / "src").mkdir(parents=True)
    (root / "susp").mkdir()
    src_a = (
        "Fishing quotas were set on Monday.\n"
        + PHRASE
        + "\nThe mayor, Ilse Varn, was absent."
    )
    susp_a = "Port news \x19 in brief.\r\n" + PHRASE + " Other things followed."
    (root / "src" / "source-document00001.txt").write_text(
        src_a, encoding="utf-8", newline=""
    )
    (root / "susp" / "suspicious-document00001.txt").write_text(
        susp_a, encoding="utf-8", newline=""
    )
    (root / "src" / "source-document00002.txt").write_text(
        "Rain in the valley.", encoding="utf-8"
    )
    (root / "susp" / "suspicious-document00002.txt").write_text(
        "A goat won a prize.", encoding="utf-8"
    )
    (root / "pairs").write_text(
        "suspicious-document00001.txt source-document00001.txt\n"
        "suspicious-document00002.txt source-document00002.txt\n",
        encoding="utf-8",
    )
    plag, none = root / "02-no-obfuscation", root / "01-no-plagiarism"
    plag.mkdir()
    none.mkdir()
    (plag / "pairs").write_text(
        "suspicious-document00001.txt source-document00001.txt\n", encoding="utf-8"
    )
    (none / "pairs").write_text(
        "suspicious-document00002.txt source-document00002.txt\n", encoding="utf-8"
    )
    this_offset, source_offset = susp_a.index(PHRASE), src_a.index(PHRASE)
    (plag / "suspicious-document00001-source-document00001.xml").write_text(
        '<document reference="suspicious-document00001.txt">\n'
        f'<feature name="plagiarism" obfuscation="none" this_offset="{this_offset}"'
        f' this_length="{len(PHRASE)}" source_reference="source-document00001.txt"'
        f' source_offset="{source_offset}" source_length="{len(PHRASE)}" />\n</document>\n',
        encoding="utf-8",
    )
    (none / "suspicious-document00002-source-document00002.xml").write_text(
        '<document reference="suspicious-document00002.txt">\n</document>\n',
        encoding="utf-8",
    )


def phrase_detector(suspicious: str, source: str) -> list[tuple[Span, Span]]:
    """Finds PHRASE in both texts (top level so that it pickles for jobs=2)."""
    i, j = suspicious.find(PHRASE), source.find(PHRASE)
    if i < 0 or j < 0:
        return []
    return [(Span(i, i + len(PHRASE)), Span(j, j + len(PHRASE)))]


def everything_detector(suspicious: str, source: str) -> list[tuple[Span, Span]]:
    """Flags both whole texts: a detector that always raises an alarm."""
    return [(Span(0, len(suspicious)), Span(0, len(source)))]


def test_read_corpus_maps_pairs_to_categories(tmp_path: Path) -> None:
    _make_corpus(tmp_path)
    corpus = read_corpus(tmp_path)
    assert corpus.categories == ("01-no-plagiarism", "02-no-obfuscation")
    assert [(p.suspicious, p.category) for p in corpus.pairs] == [
        ("suspicious-document00001.txt", "02-no-obfuscation"),
        ("suspicious-document00002.txt", "01-no-plagiarism"),
    ]
    pair = corpus.pairs[0]
    assert pair.xml_name == "suspicious-document00001-source-document00001.xml"
    # offsets count characters of the file read without newline translation
    (case,) = read_annotations(pair.truth).annotations()  # type: ignore[arg-type]
    text = read_text(corpus.suspicious_path(pair))
    assert "\r\n" in text and "\x19" in text
    assert text[case[0] : case[0] + case[1]] == PHRASE


def test_read_corpus_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a PAN corpus"):
        read_corpus(tmp_path)
    _make_corpus(tmp_path)
    (
        tmp_path
        / "02-no-obfuscation"
        / "suspicious-document00001-source-document00001.xml"
    ).unlink()
    with pytest.raises(InputError, match="truth file not found"):
        read_corpus(tmp_path)


@pytest.mark.parametrize("jobs", [1, 2])
def test_evaluate_pan_exact_on_fictional_corpus(tmp_path: Path, jobs: int) -> None:
    _make_corpus(tmp_path / "corpus")
    seen: list[tuple[int, int]] = []
    report = evaluate_pan(
        tmp_path / "corpus",
        tmp_path / "out",
        phrase_detector,
        jobs=jobs,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen == [(0, 2), (1, 2), (2, 2)]
    assert report.overall.score.plagdet == 1.0
    assert report.no_plagiarism_pairs == 1 and report.no_plagiarism_flagged == 0
    written = (
        tmp_path
        / "out"
        / "02-no-obfuscation"
        / "suspicious-document00001-source-document00001.xml"
    )
    truth = tmp_path / "corpus" / "02-no-obfuscation" / written.name
    assert (
        read_annotations(written, DETECTION_FEATURE).annotations()
        == read_annotations(truth).annotations()
    )
    assert (
        tmp_path
        / "out"
        / "01-no-plagiarism"
        / "suspicious-document00002-source-document00002.xml"
    ).is_file()
    rows = report.table()
    assert [r["category"] for r in rows] == [
        "01-no-plagiarism",
        "02-no-obfuscation",
        "all",
    ]
    assert (
        rows[0]["plagdet"] == 1.0
    )  # no cases and no detections: 1 by the official definition
    json.dumps(report.to_dict())


def test_evaluate_pan_counts_false_alarms(tmp_path: Path) -> None:
    _make_corpus(tmp_path / "corpus")
    report = evaluate_pan(tmp_path / "corpus", tmp_path / "out", everything_detector)
    assert report.no_plagiarism_flagged == 1
    by_name = {c.name: c for c in report.categories}
    assert by_name["01-no-plagiarism"].score.plagdet == 0.0
    assert by_name["02-no-obfuscation"].score.recall == 1.0
    assert 0 < by_name["02-no-obfuscation"].score.precision < 1
    assert report.overall.unannotated_pairs_flagged == 1


def test_evaluate_pan_rejects_bad_arguments(tmp_path: Path) -> None:
    _make_corpus(tmp_path / "corpus")
    with pytest.raises(ValueError):
        evaluate_pan(tmp_path / "corpus", tmp_path / "out", phrase_detector, jobs=0)
    with pytest.raises(ValueError):
        evaluate_pan(tmp_path / "corpus", tmp_path / "out", phrase_detector, sample=0)


def test_baseline_finds_the_planted_sentence() -> None:
    source = "Fishing quotas were set on Monday. " + PHRASE + " The mayor was absent."
    derived = "Port news in brief. " + PHRASE + " Other things followed."
    ((this, src),) = detect_passages(derived, source, BaselineSettings(min_seeds=1))
    assert this.slice(derived) == PHRASE.rstrip(".")
    assert src.slice(source) == PHRASE.rstrip(".")
    assert detect_passages("A goat won a prize.", "Rain in the valley.") == []


# ----------------------------------------------------------------- real PAN pairs


@pytest.fixture(scope="module")
def pan(shared_data: Path) -> Path:
    """The PAN 2013 text-alignment training corpus in ../shared/data (skipped when missing)."""
    path = shared_data / "pan13-train"
    if not (path / "pairs").is_file():
        pytest.skip(f"{path} is not available")
    return path


def test_real_truth_offsets_slice_the_passage(pan: Path) -> None:
    corpus = read_corpus(pan)
    pairs = [p for p in corpus.pairs if p.category == "02-no-obfuscation"][:2]
    for pair in pairs:
        susp = read_text(corpus.suspicious_path(pair))
        src = read_text(corpus.source_path(pair))
        for off, length, s_off, s_length in read_annotations(pair.truth).annotations(
            pair.source
        ):  # type: ignore[arg-type]
            # unobfuscated copies: the same words, line breaks may differ
            assert (
                susp[off : off + length].split()
                == src[s_off : s_off + s_length].split()
            )
            assert length > 100


def test_runner_on_three_real_pairs(pan: Path, tmp_path: Path) -> None:
    report = evaluate_pan(pan, tmp_path / "out", detect_passages, sample=3, seed=1)
    assert report.overall.pairs == 3
    written = sorted((tmp_path / "out").glob("*/*.xml"))
    assert len(written) == 3
    for path in written:
        assert (
            pan / path.parent.name / path.name
        ).is_file()  # same name as the truth file
        read_annotations(path, DETECTION_FEATURE)
    for row in report.table():
        for key in ("precision", "recall", "plagdet"):
            assert 0.0 <= row[key] <= 1.0
        assert row["granularity"] >= 1.0
    data = report.to_dict()
    assert data["schema_version"] == "1.0" and data["pairs"] == 3
    assert data["overall"]["cpu"]["mean_ms"] >= 0
    json.dumps(data)
