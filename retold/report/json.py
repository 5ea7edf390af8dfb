"""JSON report: one :class:`~retold.model.CompareResult` as a versioned, documented JSON object.

The output follows the JSON Schema shipped in ``retold/schemas/compare-1.json`` (see
``docs/json-schema.md``). Every span is a half-open ``[start, end)`` character range into the
``text`` of the document it belongs to, so ``documents[side]["text"][start:end]`` is the span.
The output never contains colour codes.

Example:
    >>> from retold.report import to_json
    >>> print(to_json(result))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

from retold.model import CompareResult, Document, Fact, Segmentation, Side, Span

logger = logging.getLogger(__name__)

SCHEMA_VERSION = "1.0"
"""Version of the JSON output; an additive change bumps the minor, a breaking one the major."""

TOOL_NAME = "retold"

_SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "compare-1.json"
_DIGITS = 4  # scores, probabilities and coverage are rounded to this many decimals


def _tool_version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version(TOOL_NAME)
    except PackageNotFoundError:  # running from a source tree that was not installed
        package = sys.modules.get(TOOL_NAME)
        return str(getattr(package, "__version__", "0+unknown"))


def _round(value: float) -> float:
    return round(float(value), _DIGITS)


def _other(side: Side) -> Side:
    return "b" if side == "a" else "a"


def _span(span: Span) -> dict[str, int]:
    return {"start": span.start, "end": span.end}


def _segments(segmentation: Segmentation) -> list[dict[str, Any]]:
    return [
        {
            "kind": s.kind,
            "role": s.role,
            "start": s.start,
            "end": s.end,
            "index": s.index,
            "paragraph": s.paragraph,
        }
        for s in (*segmentation.paragraphs, *segmentation.sentences)
    ]


def _document(doc: Document, segmentation: Segmentation) -> dict[str, Any]:
    return {
        "id": doc.id,
        "name": doc.name,
        "title": doc.title,
        "url": doc.url,
        "published": doc.published,
        "author": doc.author,
        "site": doc.site,
        "format": doc.format,
        "text": doc.text,
        "segments": _segments(segmentation),
    }


def _fact(fact: Fact | None) -> dict[str, Any] | None:
    if fact is None:
        return None
    return {"text": fact.text, "value": fact.value, "start": fact.span.start, "end": fact.span.end}


def to_dict(result: CompareResult) -> dict[str, Any]:
    """Turn a comparison into plain JSON-ready data (schema ``compare-1.json``, version 1.0).

    Args:
        result: what ``retold.compare(a, b)`` returned.

    Returns:
        A dict of str, int, float, bool, None, lists and dicts only. Spans under ``alignments``
        (``derivative_spans``), ``added`` and ``facts[].derivative`` index the derivative's text;
        ``source_spans``, ``dropped`` and ``facts[].source`` index the source's text.

    Example:
        >>> data = to_dict(result)  # doctest: +SKIP
        >>> data["documents"][data["derivative"]]["text"][data["added"][0]["start"]:]  # doctest: +SKIP
    """
    direction = result.verdict.direction
    derivative: Side = direction.derivative
    source: Side = direction.source if direction.source != derivative else _other(derivative)
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": TOOL_NAME, "version": _tool_version()},
        "documents": {
            "a": _document(result.a, result.segments_a),
            "b": _document(result.b, result.segments_b),
        },
        "derivative": derivative,
        "source": source,
        "verdict": {
            "derived": bool(result.verdict.derived),
            "probability": _round(result.verdict.probability),
            "type": result.verdict.type,
            "direction": {
                "derivative": derivative,
                "source": source,
                "label": f"{derivative}<-{source}",
                "confidence": _round(direction.confidence),
                "evidence": list(direction.evidence),
            },
        },
        "coverage": {
            "derivative": _round(result.coverage.derivative),
            "source": _round(result.coverage.source),
        },
        "alignments": [
            {
                "id": i,
                "derivative_spans": [_span(s) for s in aln.derivative_spans],
                "source_spans": [_span(s) for s in aln.source_spans],
                "kind": aln.kind,
                "score": _round(aln.score),
                "derivative_sentences": list(aln.derivative_sentences),
                "source_sentences": list(aln.source_sentences),
            }
            for i, aln in enumerate(result.alignments)
        ],
        "links": [
            {
                "derivative": link.derivative,
                "sources": list(link.sources),
                "score": _round(link.score),
                "lexical": _round(link.lexical),
                "semantic": _round(link.semantic),
            }
            for link in result.links
        ],
        "dropped": [
            {"start": d.span.start, "end": d.span.end, "unit": d.unit, "text": d.text} for d in result.dropped
        ],
        "added": [
            {"start": a.span.start, "end": a.span.end, "unit": a.unit, "text": a.text} for a in result.added
        ],
        "facts": [
            {
                "kind": f.kind,
                "status": f.status,
                "change": f.change,
                "detail": f.detail,
                "derivative": _fact(f.derivative),
                "source": _fact(f.source),
            }
            for f in result.facts
        ],
        "encoder": result.encoder,
        "elapsed_ms": round(float(result.elapsed_ms), 1),
    }


def to_json(result: CompareResult, indent: int | None = 2) -> str:
    """Serialise a comparison as JSON text (UTF-8 characters kept as they are, no colour codes).

    Args:
        result: what ``retold.compare(a, b)`` returned.
        indent: spaces per nesting level; ``None`` writes one compact line (handy for JSONL).

    Returns:
        The JSON document described by ``retold/schemas/compare-1.json``.

    Example:
        >>> text = to_json(result, indent=None)  # doctest: +SKIP
    """
    return json.dumps(to_dict(result), indent=indent, ensure_ascii=False)


def load_schema() -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) that :func:`to_dict` output follows."""
    with _SCHEMA_PATH.open(encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema
