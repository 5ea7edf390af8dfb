"""One article as a JSON object.

The object needs ``text`` (a string) and may carry ``title``, ``url``, ``published``, ``author``,
``site`` and ``id``; other fields are ignored. Example::

    {"id": "wire-42", "title": "Port reopens", "published": "2024-03-01", "text": "The port..."}
"""

from __future__ import annotations

import json as _json
from typing import Any

from retold.errors import InputError
from retold.ingest.text import make_document
from retold.model import Document

__all__ = ["parse_object", "read"]

_METADATA = ("title", "url", "published", "author", "site")


def parse_object(text: str, name: str) -> dict[str, Any]:
    """Parse ``text`` as one JSON object.

    Raises:
        InputError: ``invalid JSON: <message>`` or ``JSON value is not an object``.
    """
    try:
        value = _json.loads(text)
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise InputError(name, f"invalid JSON: {exc}") from exc
    except RecursionError as exc:
        raise InputError(name, "invalid JSON: nested too deeply") from exc
    if not isinstance(value, dict):
        raise InputError(name, f"JSON value is not an object (got {type(value).__name__})")
    return value


def read(text: str, name: str) -> Document:
    """Build a document from the text of a JSON object.

    Args:
        text: the decoded JSON text.
        name: the file name, used in error messages and as ``Document.name``.

    Raises:
        InputError: invalid JSON, not an object, no ``text`` field, or ``text`` not a string.

    Example:
        >>> read('{"text": "Three short words.", "title": "T"}', "a.json").title
        'T'
    """
    record = parse_object(text, name)
    body = record.get("text")
    if body is None:
        raise InputError(name, "JSON object has no 'text' field")
    if not isinstance(body, str):
        raise InputError(name, f"JSON field 'text' is not a string (got {type(body).__name__})")
    metadata = {key: _scalar(record.get(key)) for key in _METADATA}
    return make_document(body, name, "json", id=_scalar(record.get("id")), **metadata)


def _scalar(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)
