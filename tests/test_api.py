"""The public Python API: a small, pinned front door."""

from __future__ import annotations

from pathlib import Path

import jsonschema

import retold
from retold.report.json import load_schema

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_public_names_are_pinned():
    assert sorted(retold.__all__) == sorted(
        [
            "Added", "Alignment", "CompareResult", "ConfigError", "Coverage", "Direction", "Document",
            "Dropped", "Fact", "FactChange", "Index", "InputError", "ModelError", "RetoldError", "Segment",
            "Settings", "Span", "StoreError", "Verdict", "__version__", "compare", "load", "scan", "trace",
        ]
    )
    for name in retold.__all__:
        assert hasattr(retold, name)


def test_compare_accepts_paths_strings_and_documents():
    wire = EXAMPLES / "wire_story.txt"
    rewrite = EXAMPLES / "rewrite_close.txt"
    from_paths = retold.compare(rewrite, wire)
    from_strings = retold.compare(rewrite.read_text(encoding="utf-8"), wire.read_text(encoding="utf-8"))
    from_documents = retold.compare(retold.load(rewrite), retold.load(wire))
    assert from_paths.verdict == from_documents.verdict
    assert [a.derivative_spans for a in from_paths.alignments] == [a.derivative_spans for a in from_strings.alignments]
    assert from_paths.a.name == str(rewrite) and from_strings.a.name == "<text>"


def test_result_renders_for_notebooks_and_json():
    result = retold.compare(EXAMPLES / "rewrite_condensed.txt", EXAMPLES / "wire_story.txt")
    page = result._repr_html_()
    assert "<html" in page.lower() and "grey sand eel" in page
    jsonschema.Draft202012Validator(load_schema()).validate(result.to_dict())


def test_lexical_only_encoder_still_aligns():
    settings = retold.Settings().with_encoder("none")
    result = retold.compare(EXAMPLES / "rewrite_close.txt", EXAMPLES / "wire_story.txt", settings)
    assert result.verdict.derived and result.encoder == "none"


def test_unknown_encoder_is_a_model_error():
    import pytest

    with pytest.raises(retold.ModelError, match="unknown encoder"):
        retold.compare("a b c d", "a b c d", retold.Settings().with_encoder("no-such-encoder"))


def test_only_web_urls_become_links_in_the_report():
    article = "The harbour authority approved the expansion of the container terminal on Tuesday evening."
    safe = retold.load(b'{"text": "%s", "url": "https://example.org/a"}' % article.encode())
    evil = retold.load(b'{"text": "%s", "url": "javascript:alert(1)"}' % article.encode())
    page = retold.compare(evil, safe).to_html()
    assert 'href="https://example.org/a"' in page
    assert 'href="javascript:' not in page
