"""The installed `retold` command: exit status, one-line errors, JSON, HTML, stdin."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from retold.cli import main
from retold.report.json import load_schema

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
WIRE = str(EXAMPLES / "wire_story.txt")
CONDENSED = str(EXAMPLES / "rewrite_condensed.txt")
INDEPENDENT = str(EXAMPLES / "independent_report.txt")


def run_cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "retold", *args], input=stdin, capture_output=True, timeout=120
    )


def test_compare_json_validates_against_the_published_schema(capsys):
    assert main(["compare", CONDENSED, WIRE, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator(load_schema()).validate(data)
    assert data["verdict"]["derived"] is True
    assert data["derivative"] == "a" and data["verdict"]["direction"]["label"] == "a<-b"


def test_terminal_report_starts_with_the_verdict(capsys):
    assert main(["--no-color", "compare", CONDENSED, WIRE]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("DERIVED")
    assert "tax revenue" in out  # the added claim is shown


def test_facts_command_prints_the_fact_table(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["--no-color", "facts", CONDENSED, WIRE]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("DERIVED")
    assert "1.2 billion" in out


def test_html_report_is_written(tmp_path, capsys):
    target = tmp_path / "report.html"
    assert main(["-q", "compare", CONDENSED, WIRE, "--html", str(target)]) == 0
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html") or page.lower().startswith("<!doctype html")
    assert "grey sand eel" in page
    assert not list(tmp_path.glob(".report.html.*")), "no temporary file may be left behind"


def test_fail_if_derived_exit_status(capsys):
    assert main(["-q", "compare", CONDENSED, WIRE, "--fail-if-derived"]) == 1
    assert main(["-q", "compare", INDEPENDENT, WIRE, "--fail-if-derived"]) == 0


@pytest.mark.parametrize(
    ("make_input", "problem"),
    [
        (lambda d: d / "missing.txt", "not found"),
        (lambda d: (d / "empty.txt").write_bytes(b"") and d / "empty.txt" or d / "empty.txt", "empty"),
        (lambda d: (d / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4) and d / "image.png",
         "binary"),
        (lambda d: (d / "bad.json").write_text('{"text": ') and d / "bad.json", "invalid JSON"),
        (lambda d: (d / "deep.json").write_text('{"text": ' + "[" * 1500 + "]" * 1500 + "}") and d / "deep.json",
         "nested too deeply"),
        (lambda d: (d / "short.txt").write_text("Hi.") and d / "short.txt", "not an article"),
    ],
)
def test_bad_input_gives_one_line_and_status_2(tmp_path, make_input, problem):
    path = make_input(tmp_path)
    result = run_cli("compare", str(path), WIRE)
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("retold: error: ") and path.name in lines[0] and problem in lines[0]
    assert result.stdout == b""


def test_stdin_input_and_usage_errors():
    text = Path(CONDENSED).read_bytes()
    result = run_cli("compare", "-", WIRE, "--json", stdin=text)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["documents"]["a"]["name"] == "-"
    assert run_cli("compare", "-", "-", stdin=text).returncode == 2
    assert run_cli("compare", WIRE).returncode == 2  # missing argument
    assert run_cli("--help").returncode == 0


def test_serve_refuses_an_unknown_encoder_in_one_line(capsys):
    assert main(["serve", "--encoder", "bogus"]) == 2  # before anything listens
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "unknown encoder 'bogus'" in lines[0]
    assert main(["serve", "--max-body-mb", "inf"]) == 2
