"""The HTTP API and the web page of ``retold serve`` (FastAPI).

Endpoints (OpenAPI at ``/openapi.json``, interactive docs at ``/docs``)::

    GET  /                  the web page: compare two articles, trace one against the store, browse
                            the graph of a scanned store
    GET  /health            {"status": "ok", ...}
    POST /compare           two articles (JSON or multipart files) -> compare-1 JSON, or the HTML
                            report with ?format=html
    POST /compare/{doc_id}  one article against a stored document -> compare-1 JSON or HTML report
    GET  /compare/{derivative_id}/{source_id}
                            two stored documents -> compare-1 JSON or HTML report
    POST /trace             one article -> trace-1 JSON (needs a store)
    GET  /documents/{id}    one stored document (needs a store)
    GET  /edges             derivation edges and clusters found by ``retold scan`` (needs a store)
    POST /index             add articles to the store (needs a store opened with --writable)

Limits and safety, all enforced here rather than by the caller:

- Request bodies are capped (:attr:`ServeSettings.max_body_bytes`): a ``Content-Length`` over the
  cap is refused with 413 before anything is read, and a chunked body is counted as it streams and
  refused with 413 as soon as it passes the cap.
- Comparisons and traces are CPU-bound, so they run in a few worker processes
  (:mod:`retold.web.workers`); each request waits at most :attr:`ServeSettings.timeout_s` (then
  504) and at most :attr:`ServeSettings.max_pending` jobs may be queued or running (then 503). A
  job that passes the time limit has its worker process killed and replaced, so its CPU stops at
  once. Short store reads (``/documents``, ``/edges``) and ``/index`` run in a small thread pool.
- The server never fetches a URL and never opens a path taken from a request: uploads are read
  from memory (:func:`retold.ingest.load_bytes`), an upload's file name is only a label.
- Bad input gets a 422 whose ``detail`` names the field (``["body", "a", "text"]``); an
  :class:`~retold.errors.InputError` (empty, binary, not an article) becomes such a 422 too.
- Every HTML response carries a Content-Security-Policy that allows only the page's own script
  file and, by hash, the inline script of the report (:mod:`retold.report.html`), so injected
  markup could not run even if escaping failed; the report itself is shown in a sandboxed iframe.
- Requests with a ``Host`` other than the bound address (DNS rebinding) get 400, and cross-site
  ``POST`` requests (an ``Origin`` of another host) get 403.

Example::

    >>> from retold.web.app import ServeSettings, create_app
    >>> app = create_app(ServeSettings())            # doctest: +SKIP
    >>> import uvicorn; uvicorn.run(app, host="127.0.0.1", port=8000)   # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar
from urllib.parse import unquote, urlsplit

from fastapi import FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..compare import Settings
from ..errors import ConfigError, StoreError
from .workers import (
    ArticleSpec,
    Busy,
    FieldError,
    TimedOut,
    WorkerError,
    WorkerPool,
    WorkerSettings,
    compare_job,
    read_article,
    trace_job,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..index import Index
    from ..model import Document

__all__ = ["ServeSettings", "create_app"]

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
_SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_NAME_CHARS = 200
MAX_INDEX_DOCUMENTS = 100
T = TypeVar("T")


@dataclass(frozen=True)
class ServeSettings:
    """Everything ``retold serve`` needs, gathered once at the edge.

    Attributes:
        store: a store directory for ``/trace``, ``/documents``, ``/edges`` and ``/index``;
            ``None`` serves ``/compare`` only (the store endpoints answer 503).
        writable: open the store for writing (``POST /index``); takes the store's write lock.
        host, port: where uvicorn listens; ``127.0.0.1`` by default.
        max_body_mb: the largest request body accepted, in megabytes (then 413).
        timeout_s: the longest a request waits for its comparison (then 504; the worker process
            running it is killed).
        workers: worker processes running comparisons and traces (and threads for store
            reads); ``None``: one per CPU, at most 4.
        max_pending: comparisons queued or running at once before new ones get 503;
            ``None``: four per worker.
        compare: the comparison settings (encoder and stage thresholds).

    Example::

        >>> ServeSettings(max_body_mb=1).max_body_bytes
        1000000
    """

    store: str | None = None
    writable: bool = False
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_mb: float = 5.0
    timeout_s: float = 30.0
    workers: int | None = None
    max_pending: int | None = None
    compare: Settings = field(default_factory=Settings)

    def __post_init__(self) -> None:
        if not self.max_body_mb > 0:
            raise ConfigError(f"max_body_mb must be positive, got {self.max_body_mb}")
        if not self.timeout_s > 0:
            raise ConfigError(f"timeout_s must be positive, got {self.timeout_s}")
        if self.workers is not None and self.workers < 1:
            raise ConfigError(f"workers must be at least 1, got {self.workers}")
        if self.max_pending is not None and self.max_pending < 1:
            raise ConfigError(f"max_pending must be at least 1, got {self.max_pending}")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be between 0 and 65535, got {self.port}")
        if self.writable and self.store is None:
            raise ConfigError("--writable needs a STORE directory")

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 1_000_000)

    @property
    def worker_threads(self) -> int:
        return self.workers or max(1, min(os.cpu_count() or 1, 4))

    @property
    def pending_limit(self) -> int:
        return self.max_pending or 4 * self.worker_threads

    @property
    def loopback(self) -> bool:
        return self.host in LOOPBACK_HOSTS


# --- request and response models ------------------------------------------------------------------

_ISO_DATE = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$"
Format = Literal["text", "markdown", "html", "json"]


class ArticleIn(BaseModel):
    """One article sent as text. Only ``text`` is required."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, description="The article: plain text, Markdown, an HTML page or a JSON object.")
    name: str | None = Field(
        default=None, max_length=MAX_NAME_CHARS,
        description="What to call it in the report (default `a` / `b`); its extension helps guess the format.",
    )
    title: str | None = Field(default=None, max_length=1000, description="Headline, shown in the report.")
    published: str | None = Field(
        default=None, pattern=_ISO_DATE, description="Publication date, ISO 8601 (`2024-03-01` or a date-time); "
        "when both sides have one, the earlier is taken as the source.",
    )
    format: Format | None = Field(default=None, description="Input format; guessed from the name and content when absent.")

    @field_validator("published")
    @classmethod
    def _a_real_date(cls, value: str | None) -> str | None:
        """The pattern admits "2025-02-30" and "25:99"; the calendar and the clock do not."""
        if value is None:
            return value
        try:
            date.fromisoformat(value[:10])
        except ValueError as exc:
            raise ValueError(f"{value[:10]!r} is not a calendar date") from exc
        clock = re.match(r".{10}[T ](\d{2}):(\d{2})(?::(\d{2}))?", value)
        if clock and (int(clock[1]) > 23 or int(clock[2]) > 59 or int(clock[3] or 0) > 60):
            raise ValueError(f"{value[11:]!r} is not a time of day")
        return value


class CompareIn(BaseModel):
    """Two articles to compare; ``a`` and ``b`` keep their names in the result."""

    model_config = ConfigDict(extra="forbid")

    a: ArticleIn
    b: ArticleIn


class StoredArticleIn(ArticleIn):
    """An article to add to the store."""

    id: str | None = Field(default=None, min_length=1, max_length=MAX_NAME_CHARS,
                           description="Its id in the store; the hash of its text when absent.")
    url: str | None = Field(default=None, max_length=2000, description="Where it was published (stored, never fetched).")


class TraceIn(BaseModel):
    """An article to trace back to the documents of the store it was rewritten from."""

    model_config = ConfigDict(extra="forbid")

    article: ArticleIn
    limit: int = Field(default=10, ge=1, le=50, description="Candidates to retrieve and compare.")
    compare_top: int = Field(default=3, ge=0, le=10, description="Sources that keep their full comparison.")


class StoredCompareIn(BaseModel):
    """An article to compare with one stored document."""

    model_config = ConfigDict(extra="forbid")

    article: ArticleIn


class IndexIn(BaseModel):
    """Articles to add to the store (one transaction per call)."""

    model_config = ConfigDict(extra="forbid")

    documents: list[StoredArticleIn] = Field(min_length=1, max_length=MAX_INDEX_DOCUMENTS)


class ErrorOut(BaseModel):
    """Every error: ``detail`` is a message, or for 422 a list of problems each naming its field."""

    detail: str | list[dict[str, Any]]


class HealthOut(BaseModel):
    status: Literal["ok"]
    version: str
    store: bool = Field(description="Whether a store is configured (the store endpoints work).")
    writable: bool
    encoder: str
    max_body_bytes: int
    timeout_s: float
    workers: int = Field(description="Worker processes running comparisons and traces.")


class DocumentOut(BaseModel):
    id: str
    name: str
    title: str | None
    url: str | None
    published: str | None
    author: str | None
    site: str | None
    format: str
    text: str


class IndexOut(BaseModel):
    seen: int
    added: int
    duplicates: int
    renamed: int
    renamed_ids: list[str]
    documents: int = Field(description="Documents in the store after this call.")
    elapsed_s: float


class EdgeOut(BaseModel):
    derivative: str
    source: str
    probability: float
    type: str
    coverage_derivative: float
    coverage_source: float
    direction_confidence: float
    direction_evidence: list[str]
    cluster: str
    stage: str


class EdgesOut(BaseModel):
    total: int = Field(description="Edges matching the filter, before limit and offset.")
    edges: list[EdgeOut]
    clusters: list[dict[str, Any]] = Field(description="Clusters (see `retold scan --json`) holding the returned edges.")


_COMPARE_IN = TypeAdapter(CompareIn)


# --- errors -------------------------------------------------------------------------------------------


class BodyTooLarge(StarletteHTTPException):
    """A request body over the limit; raised while the body streams in."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body too large: the limit is {limit:,} bytes")


def _error(status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def _while_connected(request: Request, job: Awaitable[T]) -> T:
    """Await ``job`` (a worker's answer), cancelling it when the client goes away: the worker is then
    killed as for a timeout, so a closed tab stops costing CPU (checked twice a second)."""
    task = asyncio.ensure_future(job)
    while True:
        done, _ = await asyncio.wait({task}, timeout=0.5)
        if done:
            return task.result()
        if await request.is_disconnected():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            raise StarletteHTTPException(499, "client closed the request")


def _field_error(loc: list[str | int], message: str, kind: str = "value_error") -> RequestValidationError:
    return RequestValidationError([{"loc": loc, "msg": message, "type": kind}])


def _validation_detail(exc: ValidationError | RequestValidationError, prefix: list[str | int]) -> list[dict[str, Any]]:
    """Plain, JSON-safe problems: location, message, type (the offending input is left out)."""
    return [
        {"loc": [*prefix, *error.get("loc", ())], "msg": str(error.get("msg", "invalid")), "type": str(error.get("type", ""))}
        for error in exc.errors()
    ]


# --- body limit and host checks (pure ASGI, so nothing is read before the check) -----------------------


class _Guard:
    """Refuse oversized bodies (413), foreign Host headers (400) and cross-site POSTs (403); add the
    security headers to every response (``html_csp`` to HTML responses that carry no policy)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, allowed_hosts: tuple[str, ...] | None,
                 html_csp: str) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.allowed_hosts = allowed_hosts  # None: any Host (bound to a non-loopback address)
        self.html_csp = html_csp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = _hostname(headers.get("host", ""))
        if self.allowed_hosts is not None and host not in self.allowed_hosts:
            await _send_json(send, 400, f"unexpected Host header {headers.get('host', '')!r}: this server "
                             "answers on its loopback address only")
            return
        if scope.get("method") not in ("GET", "HEAD", "OPTIONS") and "origin" in headers:
            origin = headers["origin"]
            if origin == "null" or urlsplit(origin).netloc.lower() != headers.get("host", "").lower():
                await _send_json(send, 403, f"cross-origin request from {origin!r} refused")
                return
        declared = headers.get("content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_body_bytes
            except ValueError:
                await _send_json(send, 400, "invalid Content-Length header")
                return
            if too_big:
                await _send_json(send, 413, f"request body too large: the limit is {self.max_body_bytes:,} bytes",
                                 close=True)
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": _with_security_headers(message.get("headers", []), self.html_csp)}
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge as exc:
            if not started:
                await _send_json(send, 413, exc.detail, close=True)


def _with_security_headers(headers: Any, html_csp: str) -> list[tuple[bytes, bytes]]:
    out = [(bytes(k), bytes(v)) for k, v in headers]
    present = {k.lower() for k, _ in out}
    for key, value in _SECURITY_HEADERS.items():
        if key.lower().encode() not in present:
            out.append((key.lower().encode(), value.encode()))
    content_type = next((v for k, v in out if k.lower() == b"content-type"), b"")
    if content_type.startswith(b"text/html") and b"content-security-policy" not in present:
        out.append((b"content-security-policy", html_csp.encode()))
    return out


def _hostname(host_header: str) -> str:
    host = host_header.strip().lower()
    if host.startswith("["):  # [::1]:8000
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if ":" in host else host


async def _send_json(send: Send, status: int, detail: str, close: bool = False) -> None:
    body = json.dumps({"detail": detail}).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in _SECURITY_HEADERS.items()]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# --- security headers -------------------------------------------------------------------------------

# on every answer, those the guard sends before the app runs (400, 403, 413) included
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def _script_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def _report_script_hashes() -> list[str]:
    """CSP hashes of the inline script(s) the HTML report carries (so its passage links work)."""
    from ..report import html as report_html

    script = getattr(report_html, "_JS", None)
    return [_script_hash(script)] if isinstance(script, str) else []


def _page_csp(report_hashes: list[str]) -> str:
    # The report is shown in an <iframe srcdoc>, which inherits this policy: its inline <style> and
    # style attributes need 'unsafe-inline' for styles, and its one inline script is allowed by hash.
    return "; ".join([
        "default-src 'none'",
        "script-src 'self' " + " ".join(report_hashes),
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ])


def _report_csp(report_hashes: list[str]) -> str:
    # The report fetched directly (?format=html) runs sandboxed: an opaque origin that cannot call the API.
    return "; ".join([
        "default-src 'none'",
        "script-src " + (" ".join(report_hashes) or "'none'"),
        "style-src 'unsafe-inline'",
        "img-src data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'self'",
        "sandbox allow-scripts",
    ])


# --- the thread pool for store reads -------------------------------------------------------------------


class _Pool:
    """A bounded thread pool with a per-job time limit and a cap on queued plus running jobs.

    Used for short store reads and ``POST /index``, which need the server's open store; the
    CPU-bound comparisons and traces run in :class:`~retold.web.workers.WorkerPool` instead.
    """

    def __init__(self, threads: int, pending_limit: int, timeout_s: float) -> None:
        self.executor = concurrent.futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="retold-web")
        self.pending_limit = pending_limit
        self.timeout_s = timeout_s
        self._pending = 0
        self._lock = threading.Lock()

    @property
    def pending(self) -> int:
        return self._pending

    async def run(self, fn: Callable[[], T]) -> T:
        with self._lock:
            if self._pending >= self.pending_limit:
                raise StarletteHTTPException(503, f"server busy: {self._pending} jobs queued or running; retry later",
                                             headers={"Retry-After": "1"})
            self._pending += 1
        future = self.executor.submit(fn)
        future.add_done_callback(self._release)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout_s)
        except asyncio.TimeoutError:
            future.cancel()  # only helps while it is still queued
            raise StarletteHTTPException(
                504, f"the request took longer than the time limit of {self.timeout_s:g} s"
            ) from None

    def _release(self, _: object) -> None:
        with self._lock:
            self._pending -= 1

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


# --- the store ----------------------------------------------------------------------------------------


class _Store:
    """One open :class:`~retold.index.Index`, used by one thread at a time (SQLite connection and the
    in-memory LSH are shared, so access is serialised by a lock)."""

    def __init__(self, path: str, writable: bool) -> None:
        from ..index import Index

        self.name = Path(path).name or "store"  # shown in responses instead of the server's path
        self.writable = writable
        self.index: Index = Index.open(path, writable=writable)
        self.lock = threading.Lock()
        # Bumped when POST /index adds documents: the workers then reopen their read-only view.
        self.generation = 0

    def close(self) -> None:
        with self.lock:
            self.index.close()


# --- building documents from requests -------------------------------------------------------------------


def _safe_name(name: str | None, default: str) -> str:
    """An upload's file name reduced to a label: last path component, printable, bounded."""
    if not name:
        return default
    label = name.replace("\\", "/").rsplit("/", 1)[-1]
    label = "".join(ch for ch in label if ch.isprintable()).strip()[:MAX_NAME_CHARS]
    return label or default


def _spec(article: ArticleIn, default_name: str, loc: list[str | int]) -> ArticleSpec:
    return ArticleSpec(article.text.encode("utf-8"), _safe_name(article.name, default_name), article.format,
                       tuple(loc), title=article.title, published=article.published,
                       doc_id=getattr(article, "id", None), url=getattr(article, "url", None))


async def _compare_inputs(request: Request) -> tuple[ArticleSpec, ArticleSpec]:
    """Read ``/compare``'s body (JSON or multipart) into two articles, read later by a worker."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type == "multipart/form-data":
        return await _multipart_inputs(request)
    if content_type not in ("application/json", ""):
        raise StarletteHTTPException(415, f"unsupported content type {content_type!r}: send application/json "
                                     "or multipart/form-data")
    body = await request.body()
    try:
        payload = json.loads(body) if body else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _field_error(["body"], f"invalid JSON: {exc}", "json_invalid") from exc
    try:
        parsed = _COMPARE_IN.validate_python(payload)
    except ValidationError as exc:
        raise RequestValidationError(_validation_detail(exc, ["body"])) from exc
    return _spec(parsed.a, "a", ["body", "a", "text"]), _spec(parsed.b, "b", ["body", "b", "text"])


async def _multipart_inputs(request: Request) -> tuple[ArticleSpec, ArticleSpec]:
    from starlette.datastructures import UploadFile

    try:
        form = await request.form(max_files=2, max_fields=8)
    except StarletteHTTPException:
        raise
    except Exception as exc:  # a malformed multipart body (the parser's own exception types vary)
        raise _field_error(["body"], f"invalid multipart body: {exc}") from exc
    readers: list[ArticleSpec] = []
    for side in ("a", "b"):
        item = form.get(side)
        extras: dict[str, str | None] = {}
        for key in ("title", "published", "format"):
            value = form.get(f"{side}_{key}")
            if value is not None and not isinstance(value, str):
                raise _field_error(["body", f"{side}_{key}"], "must be a text field, not a file")
            extras[key] = value or None
        if extras["published"] is not None:
            try:
                ArticleIn(text="x", published=extras["published"])
            except ValidationError as exc:
                raise _field_error(["body", f"{side}_published"], "must be an ISO 8601 date or date-time") from exc
        if extras["format"] is not None and extras["format"] not in ("text", "markdown", "html", "json"):
            raise _field_error(["body", f"{side}_format"], "must be one of text, markdown, html, json")
        if item is None:
            raise _field_error(["body", side], "field required: a file (or text field) with the article", "missing")
        if isinstance(item, UploadFile):
            data = await item.read()
            name = _safe_name(item.filename, side)
        else:
            data, name = item.encode("utf-8"), side
        if not data.strip():
            raise _field_error(["body", side], f"{name}: empty file")
        readers.append(ArticleSpec(data, name, extras["format"], ("body", side),
                                   title=extras["title"], published=extras["published"]))
    await form.close()
    return readers[0], readers[1]


# --- the application ----------------------------------------------------------------------------------


def _schema_component(path: Path, prefix: str, components: dict[str, Any]) -> dict[str, Any]:
    """Load a shipped JSON Schema for OpenAPI: its ``$defs`` become components named ``PREFIX_x``."""
    schema = json.loads(path.read_text(encoding="utf-8"))
    text = json.dumps(schema).replace('"#/$defs/', f'"#/components/schemas/{prefix}_')
    schema = json.loads(text)
    for name, definition in schema.pop("$defs", {}).items():
        components[f"{prefix}_{name}"] = definition
    for key in ("$schema", "$id"):
        schema.pop(key, None)
    components[prefix] = schema
    return {"$ref": f"#/components/schemas/{prefix}"}


_DOC_ID = PathParam(min_length=1, max_length=MAX_NAME_CHARS, description="A document id in the store.")
_FORMAT_QUERY = Query(description="`json` (compare-1) or `html` (the report page)")

_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorOut, "description": "Request body over the limit."},
    422: {"model": ErrorOut, "description": "Invalid input; `detail[].loc` names the field."},
    503: {"model": ErrorOut, "description": "Server busy, or no store configured."},
    504: {"model": ErrorOut, "description": "The request took longer than the time limit."},
}


def create_app(settings: ServeSettings | None = None) -> FastAPI:
    """Build the FastAPI application.

    Args:
        settings: limits, store and comparison settings; defaults to ``ServeSettings()``.

    Returns:
        The ASGI application; run it with uvicorn (``retold serve`` does).

    Raises:
        StoreError: ``settings.store`` is not a readable store (or is locked, with ``writable``).
        ModelError: the encoder of ``settings.compare`` cannot be loaded (at start-up).

    Example::

        >>> from fastapi.testclient import TestClient               # doctest: +SKIP
        >>> client = TestClient(create_app(ServeSettings()))         # doctest: +SKIP
        >>> client.get("/health").json()["status"]                   # doctest: +SKIP
        'ok'
    """
    from .. import __version__

    settings = settings or ServeSettings()
    store = _Store(settings.store, settings.writable) if settings.store is not None else None
    pool = _Pool(settings.worker_threads, settings.pending_limit, settings.timeout_s)
    workers = WorkerPool(WorkerSettings(compare=settings.compare, processes=settings.worker_threads,
                                        store=settings.store),
                         settings.pending_limit, settings.timeout_s)
    report_hashes = _report_script_hashes()
    page_csp, report_csp = _page_csp(report_hashes), _report_csp(report_hashes)
    compare_settings = settings.compare

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Start the worker processes (each with the encoder loaded) before the first request.
        try:
            await workers.start()
        except BaseException:
            workers.shutdown()
            raise
        try:
            yield
        finally:
            workers.shutdown()
            pool.shutdown()
            if store is not None:
                store.close()

    app = FastAPI(
        title="retold",
        version=__version__,
        summary="Find where a news article was rewritten from another one.",
        description="Compare two articles (aligned passages, verdict, direction, fact diff) and, with a "
        "store, trace an article to its sources. The server never fetches URLs. See docs/web.md.",
        lifespan=lifespan,
        docs_url=None,  # served below from local files: FastAPI's default loads Swagger UI from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.pool = pool
    app.state.workers = workers

    async def work(request: Request, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in a worker, given up (and the worker killed) if the client goes away."""
        return await _while_connected(request, workers.run(function, *args))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, exc.detail, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "invalid")), "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        return _error(422, detail)

    @app.exception_handler(FieldError)
    async def field_error(_: Request, exc: FieldError) -> JSONResponse:
        return _error(422, [{"loc": list(exc.loc), "msg": exc.message, "type": "value_error"}])

    @app.exception_handler(RecursionError)
    async def too_deep(_: Request, exc: RecursionError) -> JSONResponse:
        # json.loads on a body of a thousand nested brackets (here and in FastAPI's own body
        # parsing); answered here, not as a 500 (which would also close the client's connection)
        return _error(422, [{"loc": ["body"], "msg": "invalid JSON: nested too deeply", "type": "json_invalid"}])

    @app.exception_handler(Busy)
    async def busy(_: Request, exc: Busy) -> JSONResponse:
        return _error(503, str(exc), {"Retry-After": "1"})

    @app.exception_handler(TimedOut)
    async def timed_out(_: Request, exc: TimedOut) -> JSONResponse:
        return _error(504, str(exc))

    @app.exception_handler(WorkerError)
    async def worker_error(_: Request, exc: WorkerError) -> JSONResponse:
        logger.error("worker error: %s", exc)
        return _error(500, f"internal error ({exc.type_name}); see the server log")

    @app.exception_handler(StoreError)
    async def store_error(_: Request, exc: StoreError) -> JSONResponse:
        return _error(503, f"store error: {exc}")

    @app.exception_handler(Exception)
    async def unexpected_error(_: Request, exc: Exception) -> JSONResponse:  # the HTTP boundary
        logger.exception("unexpected error: %s", exc)
        return _error(500, f"internal error ({type(exc).__name__}); see the server log")

    allowed = None if not settings.loopback else (*LOOPBACK_HOSTS, "testserver")
    app.add_middleware(_Guard, max_body_bytes=settings.max_body_bytes, allowed_hosts=allowed, html_csp=page_csp)

    # -- the page ---------------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> FileResponse:
        return _allowed_file(STATIC_DIR, _STATIC_FILES, name)

    # -- OpenAPI docs (Swagger UI from the swagger-ui-py wheel, when installed) ---------------------

    swagger_dir = _swagger_static_dir()
    if swagger_dir is not None:
        from fastapi.openapi.docs import get_swagger_ui_html

        docs_page = get_swagger_ui_html(
            openapi_url="/openapi.json", title="retold API",
            swagger_js_url="/docs/static/swagger-ui-bundle.js", swagger_css_url="/docs/static/swagger-ui.css",
            swagger_favicon_url="/docs/static/favicon-32x32.png",
        ).body
        docs_html = bytes(docs_page).decode("utf-8")
        inline = [_script_hash(m) for m in re.findall(r"<script>(.*?)</script>", docs_html, re.DOTALL)]
        docs_csp = page_csp.replace("script-src 'self' " + " ".join(report_hashes), "script-src 'self' " + " ".join(inline))

        @app.get("/docs", include_in_schema=False)
        async def docs() -> Response:
            return Response(docs_html, media_type="text/html", headers={"Content-Security-Policy": docs_csp})

        @app.get("/docs/static/{name}", include_in_schema=False)
        async def docs_static(name: str) -> FileResponse:
            return _allowed_file(swagger_dir, _SWAGGER_FILES, name)

    # -- API ----------------------------------------------------------------------------------------

    @app.get("/health", response_model=HealthOut, tags=["service"])
    async def health() -> HealthOut:
        """Liveness and configuration: version, store, limits."""
        return HealthOut(status="ok", version=__version__, store=store is not None,
                         writable=bool(store and store.writable), encoder=compare_settings.align.encoder,
                         max_body_bytes=settings.max_body_bytes, timeout_s=settings.timeout_s,
                         workers=settings.worker_threads)

    compare_components: dict[str, Any] = {}
    compare_schema = _schema_component(_SCHEMAS_DIR / "compare-1.json", "Compare1", compare_components)
    trace_components: dict[str, Any] = {}
    trace_schema = _schema_component(_SCHEMAS_DIR / "trace-1.json", "Trace1", trace_components)
    multipart_schema = {
        "type": "object",
        "required": ["a", "b"],
        "properties": {
            "a": {"type": "string", "format": "binary", "description": "The first article: .txt, .md, .html or .json."},
            "b": {"type": "string", "format": "binary", "description": "The second article."},
            "a_title": {"type": "string"}, "b_title": {"type": "string"},
            "a_published": {"type": "string", "pattern": _ISO_DATE},
            "b_published": {"type": "string", "pattern": _ISO_DATE},
            "a_format": {"enum": ["text", "markdown", "html", "json"]},
            "b_format": {"enum": ["text", "markdown", "html", "json"]},
        },
    }

    @app.post(
        "/compare",
        tags=["compare"],
        responses={
            200: {"description": "The comparison: compare-1 JSON, or the HTML report with `format=html`.",
                  "content": {"application/json": {"schema": compare_schema},
                              "text/html": {"schema": {"type": "string"}}}},
            400: {"model": ErrorOut, "description": "Malformed request."},
            415: {"model": ErrorOut, "description": "Neither JSON nor multipart."},
            **_ERRORS,
        },
        openapi_extra={"requestBody": {"required": True, "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/CompareIn"}},
            "multipart/form-data": {"schema": multipart_schema},
        }}},
    )
    async def compare(
        request: Request,
        format: Annotated[Literal["json", "html"], Query(description="`json` (compare-1) or `html` (the report page)")] = "json",
    ) -> Response:
        """Compare two articles: verdict, direction, aligned passages, dropped/added text, fact diff.

        Send JSON (`{"a": {"text": ...}, "b": {"text": ...}}`, optional `name`, `title`,
        `published`, `format` each) or `multipart/form-data` with two files `a` and `b`.
        """
        spec_a, spec_b = await _compare_inputs(request)
        return _compare_response(await work(request, compare_job, spec_a, spec_b, format), format)

    def _compare_response(answer: tuple[bytes, str], format: str) -> Response:
        body, media = answer
        headers = {"Content-Security-Policy": report_csp} if format == "html" else None
        return Response(body, media_type=media, headers=headers)

    def need_store(write: bool = False) -> _Store:
        if store is None:
            raise StarletteHTTPException(503, "no store configured: start the server with `retold serve STORE`")
        if write and not store.writable:
            raise StarletteHTTPException(403, "the store is read-only: start the server with `retold serve STORE --writable`")
        return store

    @app.post("/trace", tags=["store"], responses={
        200: {"description": "trace-1 JSON: the store's documents this article was rewritten from (or that copied it).",
              "content": {"application/json": {"schema": trace_schema}}},
        **_ERRORS,
    })
    async def trace(request: Request, body: TraceIn) -> Response:
        """Trace an article to the documents of the store it was rewritten from."""
        current = need_store()
        spec = _spec(body.article, "article", ["body", "article", "text"])
        data = await work(request, trace_job, current.generation, spec, body.limit, body.compare_top, current.name)
        return Response(data, media_type="application/json")

    async def stored(current: _Store, doc_id: str) -> Document:
        def work() -> Document | None:
            with current.lock:
                try:
                    return current.index.get(doc_id)
                except KeyError:
                    return None

        found = await pool.run(work)
        if found is None:
            raise StarletteHTTPException(404, f"no document with id {doc_id!r}")
        return found

    compare_doc = "The comparison: compare-1 JSON, or the HTML report with `format=html`."

    @app.post("/compare/{doc_id:path}", tags=["store"], responses={
        200: {"description": compare_doc, "content": {"application/json": {"schema": compare_schema},
                                                       "text/html": {"schema": {"type": "string"}}}},
        404: {"model": ErrorOut, "description": "No such document."},
        **_ERRORS,
    })
    async def compare_with_stored(
        request: Request,
        doc_id: Annotated[str, _DOC_ID],
        body: StoredCompareIn,
        format: Annotated[Literal["json", "html"], _FORMAT_QUERY] = "json",
    ) -> Response:
        """Compare an article (as `a`) with the stored document `doc_id` (as `b`), as `/trace` does.

        The web page's Trace mode opens a source's side-by-side report with this.
        """
        source = await stored(need_store(), doc_id)
        spec = _spec(body.article, "article", ["body", "article", "text"])
        return _compare_response(await work(request, compare_job, spec, source, format), format)

    @app.get("/compare/{derivative_id}/{source_id}", tags=["store"], responses={
        200: {"description": compare_doc, "content": {"application/json": {"schema": compare_schema},
                                                       "text/html": {"schema": {"type": "string"}}}},
        404: {"model": ErrorOut, "description": "No such document."},
        503: _ERRORS[503], 504: _ERRORS[504],
    })
    async def compare_stored(
        request: Request,
        derivative_id: Annotated[str, _DOC_ID],
        source_id: Annotated[str, _DOC_ID],
        format: Annotated[Literal["json", "html"], _FORMAT_QUERY] = "json",
        stage: Annotated[Literal["semantic", "lexical"], Query(
            description="`semantic`: compare with the server's sentence encoder; `lexical`: without one, as "
            "`retold scan` judged the edges whose `stage` is `lexical`.")] = "semantic",
    ) -> Response:
        """Compare two stored documents: `derivative_id` as `a`, `source_id` as `b`.

        The verdict decides the direction from the texts and dates; the order only names the sides.
        The web page's Graph mode opens an edge's side-by-side report with this.
        """
        current = need_store()
        derivative = await stored(current, derivative_id)
        source = await stored(current, source_id)
        return _compare_response(await work(request, compare_job, derivative, source, format, stage), format)

    @app.get("/compare/{ids:path}", include_in_schema=False)
    async def compare_stored_slashed(
        request: Request,
        format: Annotated[Literal["json", "html"], _FORMAT_QUERY] = "json",
        stage: Annotated[Literal["semantic", "lexical"], Query()] = "semantic",
    ) -> Response:
        """``GET /compare/{derivative_id}/{source_id}`` for ids holding a ``/`` ("business/001"): the
        server decodes ``%2F`` before routing, so the two ids are read from the raw path."""
        raw = request.scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0]
        parts = raw.removeprefix("/compare/").split("/")
        if len(parts) != 2 or not all(parts):
            raise StarletteHTTPException(404, "Not Found")
        ids = [unquote(part) for part in parts]
        if any(len(i) > MAX_NAME_CHARS for i in ids):
            raise StarletteHTTPException(404, "Not Found")
        return await compare_stored(request, ids[0], ids[1], format, stage)

    @app.get("/documents/{doc_id:path}", tags=["store"], response_model=DocumentOut,
             responses={404: {"model": ErrorOut, "description": "No such document."}, 503: _ERRORS[503], 504: _ERRORS[504]})
    async def document(doc_id: Annotated[str, PathParam(min_length=1, max_length=MAX_NAME_CHARS)]) -> DocumentOut:
        """One stored document with its full normalised text."""
        return DocumentOut(**_document_dict(await stored(need_store(), doc_id)))

    @app.get("/edges", tags=["store"], response_model=EdgesOut, responses={503: _ERRORS[503], 504: _ERRORS[504]})
    async def edges(
        doc: Annotated[str | None, Query(max_length=MAX_NAME_CHARS, description="Only edges touching this document id.")] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> EdgesOut:
        """Derivation edges (and their clusters) found by `retold scan`; empty until the store is scanned."""
        current = need_store()

        def work() -> EdgesOut:
            from ..scan import load_scan

            with current.lock:
                result = load_scan(current.index)
            chosen = [e for e in result.edges if doc is None or doc in (e.derivative, e.source)]
            page = chosen[offset: offset + limit]
            wanted = {e.cluster for e in page}
            clusters = [c for c in result.to_dict()["clusters"] if c["id"] in wanted]
            return EdgesOut(
                total=len(chosen),
                edges=[EdgeOut(**{**e.row(), "direction_evidence": list(e.direction_evidence), "stage": e.stage})
                       for e in page],
                clusters=clusters,
            )

        return await pool.run(work)

    @app.post("/index", tags=["store"], response_model=IndexOut,
              responses={403: {"model": ErrorOut, "description": "The store is read-only."}, **_ERRORS})
    async def index(body: IndexIn) -> IndexOut:
        """Add up to 100 articles to the store; articles already present (same text) are skipped."""
        current = need_store(write=True)

        def work() -> IndexOut:
            documents = [read_article(_spec(d, f"document-{i}", ["body", "documents", i, "text"]))
                         for i, d in enumerate(body.documents)]
            with current.lock:
                added = current.index.add(documents, workers=1)
                total = current.index.count()
                if added.added:
                    current.generation += 1
            return IndexOut(seen=added.seen, added=added.added, duplicates=added.duplicates, renamed=added.renamed,
                            renamed_ids=list(added.renamed_ids), documents=total, elapsed_s=round(added.elapsed_s, 3))

        return await pool.run(work)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            schema = get_openapi(title=app.title, version=app.version, summary=app.summary,
                                 description=app.description, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(compare_components)
            components.update(trace_components)
            models = TypeAdapter(CompareIn).json_schema(ref_template="#/components/schemas/{model}")
            for name, definition in models.pop("$defs", {}).items():
                components.setdefault(name, definition)
            components["CompareIn"] = models
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _allowed_file(folder: Path, allowed: dict[str, str], name: str) -> FileResponse:
    """``folder/name`` when ``name`` is on the fixed allow-list (with its media type), else 404:
    no path from a request reaches the file system."""
    media = allowed.get(name)
    if media is None:
        raise StarletteHTTPException(404, "not found")
    return FileResponse(folder / name, media_type=media)


_STATIC_FILES = {"app.js": "text/javascript", "style.css": "text/css"}
_SWAGGER_FILES = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
                  "favicon-32x32.png": "image/png"}


def _swagger_static_dir() -> Path | None:
    """Swagger UI's files from the swagger-ui-py wheel (found without importing it), if installed."""
    import importlib.util

    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "static"
    return folder if all((folder / name).is_file() for name in _SWAGGER_FILES) else None


def _document_dict(document: Document) -> dict[str, Any]:
    return {name: getattr(document, name) for name in DocumentOut.model_fields}
