"""Renderers for a :class:`~retold.model.CompareResult`: JSON, a self-contained HTML page, terminal.

Example:
    >>> from retold.report import to_json, to_html, render_terminal
    >>> print(to_json(result))  # doctest: +SKIP
"""

from retold.report.html import to_html
from retold.report.json import to_dict, to_json
from retold.report.terminal import render as render_terminal

__all__ = ["render_terminal", "to_dict", "to_html", "to_json"]
