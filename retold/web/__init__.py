"""``retold serve``: the HTTP API and the web page (FastAPI + uvicorn, imported only when serving).

::

    retold serve [STORE] [--host 127.0.0.1] [--port 8000] [--writable] [--max-body-mb 5] [--timeout-s 30]
                 [--workers N] [--encoder NAME]

The application itself is built by :func:`retold.web.app.create_app`; see ``docs/web.md`` for the
endpoints, the limits and the security notes.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_parsers", "bind_warning", "cmd_serve"]


def add_parsers(commands: Any) -> None:
    """Register ``serve`` on the CLI's subparsers."""
    serve = commands.add_parser(
        "serve", help="run the HTTP API and the web page (127.0.0.1:8000 by default)",
        description="Serve the JSON API (POST /compare, /trace, ...; OpenAPI docs at /docs) and a web page "
        "at / to compare two pasted or dropped articles. Binds 127.0.0.1 unless told otherwise.",
    )
    serve.add_argument("store", nargs="?", help="a store directory for /trace, /documents, /edges and /index")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, loopback only)")
    serve.add_argument("--port", type=_port, default=8000, help="port (default 8000; 0 picks a free one)")
    serve.add_argument("--writable", action="store_true", help="allow POST /index to add articles to the store")
    serve.add_argument("--max-body-mb", type=_positive_float, default=5.0, metavar="MB",
                       help="largest request body accepted, in MB (default 5; larger gets 413)")
    serve.add_argument("--timeout-s", type=_positive_float, default=30.0, metavar="S",
                       help="longest a request may take, in seconds (default 30; longer gets 504)")
    serve.add_argument("--workers", type=_positive_int, default=None, metavar="N",
                       help="worker processes for comparisons and traces (default: one per CPU, at most 4)")
    serve.add_argument("--encoder", help="sentence encoder: use-m3 (default), none, or module:attribute")
    serve.set_defaults(handler=cmd_serve)


def _port(value: str) -> int:
    number = int(value)
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 0 and 65535, got {value}")
    return number


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return number


def _positive_float(value: str) -> float:
    number = float(value)
    if not 0 < number < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {value}")
    return number


def bind_warning(host: str) -> str | None:
    """The warning to print when ``host`` is not a loopback address, else ``None``."""
    from .app import LOOPBACK_HOSTS

    if host in LOOPBACK_HOSTS:
        return None
    return (f"retold: warning: binding {host}: the API has no authentication, so anyone who can reach "
            "this address can use it (and, with --writable, add to the store); bind 127.0.0.1 unless "
            "that is what you want")


def cmd_serve(args: argparse.Namespace) -> int:
    """Build the settings, open the store, and run uvicorn until interrupted."""
    try:
        import uvicorn

        from .app import ServeSettings, create_app
    except ImportError as exc:  # pragma: no cover - depends on the installation
        print(f"retold: error: `retold serve` needs FastAPI and uvicorn ({exc.name} is missing): "
              "pip install fastapi uvicorn python-multipart", file=sys.stderr)
        return 1
    from ..compare import Settings
    from ..encoders import check_encoder
    from ..errors import ConfigError, ModelError

    compare_settings = Settings()
    if getattr(args, "encoder", None):
        try:
            check_encoder(args.encoder)
        except ModelError as exc:  # before uvicorn starts, so one line, not a lifespan traceback
            raise ConfigError(f"--encoder: {exc}") from exc
        compare_settings = compare_settings.with_encoder(args.encoder)
    settings = ServeSettings(store=args.store, writable=args.writable, host=args.host, port=args.port,
                             max_body_mb=args.max_body_mb, timeout_s=args.timeout_s, workers=args.workers,
                             compare=compare_settings)
    warning = bind_warning(settings.host)
    if warning:
        print(warning, file=sys.stderr)
    app = create_app(settings)  # raises StoreError before anything listens
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning" if args.quiet else "info",
                server_header=False, limit_concurrency=64, timeout_keep_alive=5)
    return 0
