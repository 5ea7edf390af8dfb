"""Worker processes for ``retold serve``: CPU-bound work that a time limit can actually stop.

A comparison or a trace runs in one of a few worker processes, never in the server's own process.
When a request passes its time limit (``--timeout-s``), the server answers 504, **kills the worker
process that was running it** (SIGKILL) and forks a fresh one in its place, so no CPU is spent on an
answer nobody will read. (Python cannot stop a thread; it can stop a process.)

The workers are forked by :mod:`multiprocessing`'s *forkserver*. The fork server is started once,
imports the pipeline and loads the sentence encoder (:mod:`retold.web._preload`), and then forks
every worker from that warm state: a replacement is ready in milliseconds, not the ~1.5 s a fresh
interpreter takes to load the encoder, and the encoder's weights are shared copy-on-write by all
workers. Where forkserver is not available (Windows) the workers are spawned instead.

Protocol: each worker owns one end of a pipe. It receives ``(function, args)``, runs it, and sends
back ``("ok", result)`` or ``("error", exception)``. Input problems come back as :class:`FieldError`
(the HTTP layer turns them into a 422 naming the field); other exceptions come back as themselves
when they pickle, else as :class:`WorkerError`.

Example::

    >>> pool = WorkerPool(WorkerSettings(compare=Settings(), processes=2), pending_limit=8, timeout_s=30)  # doctest: +SKIP
    >>> await pool.start()                                                  # doctest: +SKIP
    >>> body, media = await pool.run(compare_job, spec_a, spec_b, "json", "semantic")  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from ..errors import ConfigError, InputError, ModelError

if TYPE_CHECKING:  # pragma: no cover
    from multiprocessing.connection import Connection

    from ..compare import Settings
    from ..index import Index
    from ..model import Document

__all__ = [
    "PRELOAD_ENCODER_ENV", "ArticleSpec", "Busy", "FieldError", "TimedOut", "WorkerError", "WorkerPool",
    "WorkerSettings", "compare_job", "read_article", "trace_job",
]

logger = logging.getLogger(__name__)

PRELOAD_ENCODER_ENV = "RETOLD_SERVE_PRELOAD_ENCODER"
"""Environment variable read by :mod:`retold.web._preload` in the fork server: the encoder to load."""

ENCODER_CACHE_ITEMS = 200_000
"""Sentence vectors cached in all workers together (split evenly), as one process cached before."""

READY_TIMEOUT_S = 120.0
T = TypeVar("T")


# --- what travels to a worker --------------------------------------------------------------------------


class FieldError(Exception):
    """An input that cannot be read as an article; ``loc`` names the request field (then a 422)."""

    def __init__(self, loc: list[str | int], message: str) -> None:
        super().__init__(loc, message)
        self.loc = loc
        self.message = message


class WorkerError(Exception):
    """An exception raised in a worker that could not be sent back as itself."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(type_name, message)
        self.type_name = type_name
        self.message = message

    def __str__(self) -> str:
        return f"{self.type_name}: {self.message}"


class Busy(Exception):
    """Too many jobs queued or running (the HTTP layer answers 503)."""


class TimedOut(Exception):
    """A job passed the time limit; its worker was killed (the HTTP layer answers 504)."""


class ArticleSpec(NamedTuple):
    """One article as received: raw bytes plus what the request said about it."""

    data: bytes
    name: str
    format: str | None
    loc: tuple[str | int, ...]
    title: str | None = None
    published: str | None = None
    doc_id: str | None = None
    url: str | None = None


def read_article(spec: ArticleSpec | Document) -> Document:
    """The document of ``spec`` (a stored :class:`Document` is returned as is).

    Raises:
        FieldError: the bytes are not an article (empty, binary, too little text, ...).
    """
    if not isinstance(spec, ArticleSpec):
        return spec
    from dataclasses import replace

    from ..ingest import load_bytes

    try:
        document = load_bytes(spec.data, spec.name, spec.format)
    except (InputError, ConfigError) as exc:
        raise FieldError(list(spec.loc), str(exc)) from exc
    overrides = {k: v for k, v in (("title", spec.title), ("published", spec.published), ("id", spec.doc_id),
                                   ("url", spec.url)) if v is not None and v.strip()}
    return replace(document, **overrides) if overrides else document


# --- the jobs (run inside a worker) ----------------------------------------------------------------------


class _State:
    """Per-worker state: the settings, and the read-only store view that traces use."""

    settings: Any = None
    store: str | None = None
    index: Index | None = None
    generation: int = -1


def compare_job(a: ArticleSpec | Document, b: ArticleSpec | Document, fmt: str, stage: str = "semantic") -> tuple[bytes, str]:
    """Compare ``a`` with ``b``; the compare-1 JSON or (``fmt="html"``) the HTML report, as bytes.

    ``stage="lexical"`` compares without the sentence encoder, as ``retold scan`` judged its
    lexically decided edges.
    """
    from ..compare import compare_documents

    settings = _State.settings
    if stage == "lexical":
        settings = settings.with_encoder("none")
    result = compare_documents(read_article(a), read_article(b), settings)
    if fmt == "html":
        return result.to_html().encode("utf-8"), "text/html; charset=utf-8"
    return result.to_json(indent=None).encode("utf-8"), "application/json"


def trace_job(generation: int, article: ArticleSpec, limit: int, compare_top: int, store_name: str) -> bytes:
    """Trace ``article`` in the store; trace-1 JSON as bytes, ``store`` set to ``store_name``.

    The worker opens the store read-only once and again whenever ``generation`` (bumped by the
    server after each ``POST /index`` that added documents) differs from the one it opened.
    """
    import json

    from ..index import Index
    from ..trace import trace

    document = read_article(article)
    if _State.index is None or _State.generation != generation:
        if _State.index is not None:
            _State.index.close()
            _State.index = None
        if _State.store is None:
            raise ConfigError("no store configured")
        _State.index = Index.open(_State.store)
        _State.generation = generation
    result = trace(_State.index, document, limit=limit, compare_top=compare_top, settings=_State.settings)
    data = result.to_dict()
    data["store"] = store_name
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def _worker_main(conn: Connection, settings: Settings, store: str | None, cache_items: int) -> None:
    """A worker's life: load the encoder, say ready, then run jobs until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the server's to handle; it stops us
    try:
        from ..encoders import get_encoder

        encoder = get_encoder(settings.align.encoder)
        if encoder is not None and hasattr(encoder, "max_items"):
            encoder.max_items = cache_items
    except Exception as exc:  # noqa: BLE001 - reported to the server, which refuses to start
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    _State.settings = settings
    _State.store = store
    conn.send(("ready", os.getpid()))
    while True:
        try:
            function, args = conn.recv()
        except (EOFError, OSError):  # the server closed the pipe or died
            return
        try:
            reply: tuple[str, Any] = ("ok", function(*args))
        except FieldError as exc:
            reply = ("error", exc)
        except Exception as exc:
            if not isinstance(exc, (ConfigError, ModelError)):
                logger.exception("worker %d: unexpected error", os.getpid())
            reply = ("error", _sendable(exc))
        try:
            conn.send(reply)
        except (EOFError, OSError):
            return


def _sendable(exc: Exception) -> Exception:
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 - whatever fails to pickle is sent as text
        return WorkerError(type(exc).__name__, str(exc))
    return exc


# --- the pool (in the server process) ----------------------------------------------------------------


@dataclass(frozen=True)
class WorkerSettings:
    """What every worker needs: the comparison settings, the store (for traces), how many workers."""

    compare: Settings
    processes: int
    store: str | None = None


class _Worker:
    def __init__(self, process: Any, conn: Connection) -> None:
        self.process = process
        self.conn = conn
        self.jobs = 0

    @property
    def pid(self) -> int:
        return int(self.process.pid)

    def call(self, job: tuple[Callable[..., Any], tuple[Any, ...]]) -> tuple[str, Any]:
        """Send one job and wait for its reply (runs in a waiter thread)."""
        self.conn.send(job)
        return self.conn.recv()  # type: ignore[no-any-return]

    def stop(self) -> None:
        """Kill the process (SIGKILL: it gets no chance to finish what it was doing)."""
        try:
            self.process.kill()
        except (OSError, ValueError, AttributeError):
            pass

    def reap(self, close: bool = True) -> None:
        self.process.join(5)
        if close:
            self.conn.close()


class WorkerPool:
    """A fixed number of worker processes; a job that passes the time limit has its worker killed.

    ``run`` waits for an idle worker and its reply at most ``timeout_s`` in all (then
    :class:`TimedOut`); at most ``pending_limit`` jobs may wait or run at once (then :class:`Busy`).
    A killed (or crashed) worker is replaced by a fresh one forked from the fork server.
    """

    def __init__(self, settings: WorkerSettings, pending_limit: int, timeout_s: float) -> None:
        self.settings = settings
        self.pending_limit = pending_limit
        self.timeout_s = timeout_s
        self.killed = 0
        self._pending = 0
        self._workers: list[_Worker] = []
        self._idle: asyncio.Queue[_Worker] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._cache_items = max(1000, ENCODER_CACHE_ITEMS // max(1, settings.processes))
        self._context: Any = None
        # One thread per worker waits on its pipe; another starts (and replaces) workers.
        self._waiters = concurrent.futures.ThreadPoolExecutor(max_workers=settings.processes,
                                                              thread_name_prefix="retold-web-wait")
        self._starter = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="retold-web-start")

    @property
    def pending(self) -> int:
        return self._pending

    def pids(self) -> list[int]:
        """Process ids of the live workers."""
        with self._lock:
            return [w.pid for w in self._workers]

    async def start(self) -> None:
        """Start the workers and wait until each has loaded the encoder.

        Raises:
            ModelError: a worker could not load the encoder.
        """
        self._loop = asyncio.get_running_loop()
        self._idle = asyncio.Queue()
        started = time.perf_counter()
        self._context = await self._loop.run_in_executor(self._starter, _context, self.settings.compare.align.encoder)
        workers = await asyncio.gather(*(self._loop.run_in_executor(self._starter, self._spawn)
                                         for _ in range(self.settings.processes)))
        for worker in workers:
            self._idle.put_nowait(worker)
        logger.info("%d worker processes ready in %.1f s", len(workers), time.perf_counter() - started)

    def _spawn(self) -> _Worker:
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=_worker_main, name="retold-web-worker", daemon=True,
            args=(child, self.settings.compare, self.settings.store, self._cache_items),
        )
        process.start()
        child.close()
        worker = _Worker(process, parent)
        deadline = time.monotonic() + READY_TIMEOUT_S
        try:
            while not parent.poll(0.1):  # also readable at EOF, when the process died
                if self._closed:
                    raise ModelError("the server is shutting down")
                if time.monotonic() > deadline:
                    raise ModelError(f"a worker process did not start within {READY_TIMEOUT_S:g} s")
            status, detail = parent.recv()
        except (EOFError, OSError) as exc:
            worker.stop()
            worker.reap()
            raise ModelError(f"a worker process died while starting (exit code {process.exitcode})") from exc
        except BaseException:
            worker.stop()
            worker.reap()
            raise
        if status != "ready":
            worker.stop()
            worker.reap()
            raise ModelError(f"a worker process could not start: {detail}")
        with self._lock:
            if self._closed:
                worker.stop()
                worker.reap()
                raise ModelError("the server is shutting down")
            self._workers.append(worker)
        return worker

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(*args)`` in a worker; re-raise what it raised.

        Raises:
            Busy: ``pending_limit`` jobs are already waiting or running.
            TimedOut: no answer within ``timeout_s``; the job's worker, if it had one, was killed.
        """
        if self._idle is None:
            await self.start()
        assert self._idle is not None and self._loop is not None
        with self._lock:
            if self._pending >= self.pending_limit:
                raise Busy(f"server busy: {self._pending} jobs queued or running; retry later")
            self._pending += 1
        try:
            deadline = self._loop.time() + self.timeout_s
            try:
                worker = await asyncio.wait_for(self._idle.get(), self.timeout_s)
            except asyncio.TimeoutError:
                raise TimedOut(self._late()) from None
            reply = self._loop.run_in_executor(self._waiters, worker.call, (function, args))
            try:
                status, value = await asyncio.wait_for(asyncio.shield(reply),
                                                       max(0.0, deadline - self._loop.time()))
            except asyncio.TimeoutError:
                self._replace(worker, "passed the time limit", reply)
                raise TimedOut(self._late()) from None
            except asyncio.CancelledError:  # the client went away: nobody wants the answer
                self._replace(worker, "lost its request", reply)
                raise
            except (EOFError, OSError) as exc:
                self._replace(worker, "died", reply)
                raise WorkerError("WorkerDied", "the worker process died; see the server log") from exc
            worker.jobs += 1
            self._idle.put_nowait(worker)
        finally:
            with self._lock:
                self._pending -= 1
        if status == "ok":
            return value  # type: ignore[no-any-return]
        raise value

    def _late(self) -> str:
        return f"the request took longer than the time limit of {self.timeout_s:g} s"

    def _replace(self, worker: _Worker, why: str, reply: asyncio.Future[Any]) -> None:
        """Kill ``worker`` now; reap it and fork its replacement in the background."""
        logger.warning("worker %d %s: killed; starting a new one", worker.pid, why)
        worker.stop()
        self.killed += 1
        # The waiter thread sees the pipe close and ends; then the pipe can be closed here.
        def close(done: asyncio.Future[Any]) -> None:
            if not done.cancelled():
                done.exception()  # retrieved: the pipe's EOF is expected here
            worker.conn.close()

        reply.add_done_callback(close)
        with self._lock:
            if worker in self._workers:
                self._workers.remove(worker)
            if self._closed:
                return
        assert self._loop is not None

        def renew() -> _Worker:
            worker.reap(close=False)
            return self._spawn()

        future = self._loop.run_in_executor(self._starter, renew)
        future.add_done_callback(self._replaced)

    def _replaced(self, future: asyncio.Future[_Worker]) -> None:
        if future.cancelled() or self._closed:
            if not future.cancelled() and future.exception() is None:
                future.result().stop()
            return
        exc = future.exception()
        if exc is not None:
            logger.error("cannot start a replacement worker: %s", exc)
            return
        if self._idle is not None:
            self._idle.put_nowait(future.result())

    def shutdown(self) -> None:
        """Stop every worker (they are killed: any job still running is abandoned)."""
        with self._lock:
            self._closed = True
            workers, self._workers = self._workers, []
        for worker in workers:
            worker.stop()
        for worker in workers:
            worker.reap()
        self._waiters.shutdown(wait=False, cancel_futures=True)
        self._starter.shutdown(wait=True, cancel_futures=True)  # a replacement being started sees _closed


def _context(encoder: str) -> Any:
    """The forkserver context, its server preloading the pipeline and ``encoder``; else spawn."""
    if "forkserver" not in multiprocessing.get_all_start_methods():  # pragma: no cover - Windows
        return multiprocessing.get_context("spawn")
    from multiprocessing import forkserver

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["retold.web._preload"])
    # The fork server reads the encoder name from its environment when it starts (once per
    # process; a server started earlier keeps its preload, and workers then load what they lack).
    previous = os.environ.get(PRELOAD_ENCODER_ENV)
    os.environ[PRELOAD_ENCODER_ENV] = encoder
    try:
        forkserver.ensure_running()
    finally:
        if previous is None:
            os.environ.pop(PRELOAD_ENCODER_ENV, None)
        else:
            os.environ[PRELOAD_ENCODER_ENV] = previous
    return context
