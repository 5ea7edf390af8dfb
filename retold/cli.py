"""The ``retold`` command line: parses arguments, calls the Python API, renders results.

Exit status: 0 done, 1 unexpected failure (or ``--fail-if-derived`` and derived), 2 bad input,
a missing or locked store, or usage. Errors are one line on stderr naming the file and the problem; ``-v`` adds a traceback.
Results go to stdout, diagnostics to stderr, so ``retold compare a b --json | jq .`` works.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any, Callable, Sequence

from .errors import ConfigError, InputError, RetoldError, StoreError

logger = logging.getLogger("retold")

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def _input_argument(value: str) -> Any:
    """``-`` stays the stdin marker; anything else is a path."""
    return value if value == "-" else Path(value)


def write_atomically(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: never half-written."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_outputs(result: Any, args: argparse.Namespace, render_terminal: Callable[[], None]) -> None:
    """Shared by every command that produces a result object (``to_html``/``to_json``):
    ``--html FILE`` written atomically, then ``--json`` on stdout or the terminal report."""
    if getattr(args, "html", None):
        write_atomically(args.html, result.to_html())
        if not args.quiet:
            print(f"retold: wrote {args.html}", file=sys.stderr)
    if args.json:
        sys.stdout.write(result.to_json() + "\n")
    elif not args.quiet:
        render_terminal()


def _console(args: argparse.Namespace) -> Any:
    from rich.console import Console

    return Console(no_color=getattr(args, "no_color", False), soft_wrap=False, highlight=False)


def _settings(args: argparse.Namespace) -> Any:
    from .compare import Settings

    settings = Settings()
    if getattr(args, "encoder", None):
        settings = settings.with_encoder(args.encoder)
    return settings


def cmd_compare(args: argparse.Namespace) -> int:
    from .compare import compare

    if args.stdin_twice:
        raise ConfigError("only one of the two articles can be read from stdin ('-')")
    result = compare(_input_argument(args.a), _input_argument(args.b), _settings(args))

    def render_terminal() -> None:
        from .report.terminal import render

        render(result, _console(args), facts_only=args.command == "facts")

    write_outputs(result, args, render_terminal)
    if args.fail_if_derived and result.verdict.derived:
        return EXIT_FAILURE
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    from .eval import cli as eval_cli

    handler: Callable[[argparse.Namespace], int] = getattr(eval_cli, f"run_{args.eval_command}")
    return handler(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="retold",
        description="Find where a news article was rewritten from another one.",
    )
    parser.add_argument("--version", action="version", version=f"retold {_version()}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging; -v shows tracebacks")
    parser.add_argument("-q", "--quiet", action="store_true", help="no report on the terminal")
    parser.add_argument("--no-color", action="store_true", help="plain terminal output")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for name, help_text in (
        ("compare", "explain how one article was rewritten from another"),
        ("facts", "the fact diff of two articles (kept, changed, dropped, added)"),
    ):
        sub = commands.add_parser(name, help=help_text, description=help_text)
        inputs = sub.add_argument_group("input")
        inputs.add_argument("a", help="first article: .txt, .md, .html, .json, or - for stdin")
        inputs.add_argument("b", help="second article, same forms")
        output = sub.add_argument_group("output")
        output.add_argument("--json", action="store_true", help="print the result as JSON (schema compare-1)")
        output.add_argument("--html", metavar="FILE", help="write a self-contained side-by-side HTML report")
        output.add_argument(
            "--fail-if-derived", action="store_true", help="exit with status 1 when the verdict is derived"
        )
        model = sub.add_argument_group("model")
        model.add_argument("--encoder", help="sentence encoder: use-m3 (default), none, or module:attribute")
        sub.set_defaults(handler=cmd_compare)

    eval_parser = commands.add_parser("eval", help="measure accuracy on labelled corpora")
    eval_commands = eval_parser.add_subparsers(dest="eval_command", required=True, metavar="CORPUS")
    pan = eval_commands.add_parser("pan", help="PAN 2013 text alignment: plagdet overall and per category")
    pan.add_argument("corpus", help="PAN-format folder (pairs, src/, susp/, truth XML per pair)")
    pan.add_argument("--out", default="out/pan-detections", help="folder for the detection XML files")
    pan.add_argument("--jobs", type=int, default=1, help="parallel worker processes")
    pan.add_argument("--sample", type=int, help="score a seeded random sample of N pairs")
    pan.add_argument("--seed", type=int, default=0, help="seed of the sample")
    pan.add_argument("--json", action="store_true", help="print the results as JSON")
    pairs = eval_commands.add_parser("pairs", help="document-level derived-or-not on labelled pairs")
    pairs.add_argument("csv", help="CSV with columns a, b, label")
    pairs.add_argument("--json", action="store_true", help="print the results as JSON")
    para = eval_commands.add_parser("paraphrase", help="MRPC and STS-B for the sentence encoder or the aligner's sentence score")
    para.add_argument("--data", default="../shared/data/paraphrase", help="folder with MRPC and STS-B files")
    para.add_argument("--json", action="store_true", help="print the results as JSON")
    para.add_argument(
        "--scorer",
        choices=("encoder", "aligner"),
        default="encoder",
        help="score sentence pairs by the encoder's cosine, or by the aligner's lexical + semantic score",
    )
    for sub in (pan, pairs, para):
        sub.add_argument("--encoder", help="sentence encoder: use-m3 (default), none, or module:attribute")
    eval_parser.set_defaults(handler=cmd_eval)

    # Commands defined next to the code they drive; each module keeps its heavy imports lazy.
    # (one line per module: `from .MODULE import add_parsers as add_X; add_X(commands)`)
    from .index_cli import add_parsers as add_index_parsers

    add_index_parsers(commands)
    from .web import add_parsers as add_web_parsers; add_web_parsers(commands)
    return parser


def _version() -> str:
    from . import __version__

    return __version__


def _configure_logging(verbosity: int, quiet: bool) -> None:
    level = logging.WARNING
    if quiet:
        level = logging.ERROR
    elif verbosity >= 2:
        level = logging.DEBUG
    elif verbosity == 1:
        level = logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("retold: %(levelname)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors and 0 on --help
        return int(exc.code or 0)
    args.stdin_twice = getattr(args, "a", None) == "-" and getattr(args, "b", None) == "-"
    _configure_logging(args.verbose, args.quiet)
    try:
        return int(args.handler(args))
    except (InputError, ConfigError, StoreError) as exc:
        _report(exc, args.verbose)
        return EXIT_USAGE
    except RetoldError as exc:
        _report(exc, args.verbose)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("retold: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # the CLI is the boundary: one line, traceback with -v
        _report(exc, args.verbose, unexpected=True)
        return EXIT_FAILURE


def _report(exc: BaseException, verbose: int, unexpected: bool = False) -> None:
    if verbose:
        traceback.print_exc(file=sys.stderr)
    kind = f"{type(exc).__name__}: " if unexpected else ""
    message = " ".join(str(exc).split())
    print(f"retold: error: {kind}{message}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
