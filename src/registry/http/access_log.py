"""Structured request logs: one JSON line per request, with nothing sensitive in it.

Only method, path *template* (never the raw path or query string, which may hold search terms
or coordinates), status and duration are logged; bodies and headers never are.
"""

import atexit
import contextlib
import logging
import os
import sys
import threading
import time
from typing import Any, TextIO

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

access_logger = logging.getLogger("registry.access")
_encoder = msgspec.json.Encoder(enc_hook=str)


class JsonFormatter(logging.Formatter):
    _second = -1
    _stamp = ""

    def _ts(self, record: logging.LogRecord) -> str:
        # One formatting per second, not per line (a request's line is written thousands of times
        # a second under load).
        second = int(record.created)
        if second != self._second:
            self._second, self._stamp = second, self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z")
        return self._stamp

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": self._ts(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            payload.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            # The type is enough to find it; the traceback goes to the same stream for operators.
            payload["error"] = record.exc_info[0].__name__
            payload["trace"] = self.formatException(record.exc_info)
        return _encoder.encode(payload).decode()


class BufferedStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Lines to stderr through a buffer of its own, written out at least every FLUSH_SECONDS (and
    at once for warnings and errors): a write to stderr per request was half a small request's
    cost. A line no other follows is written out by a thread of the handler's, FLUSH_SECONDS
    later. At exit, what is left is written."""

    FLUSH_SECONDS = 0.2

    def __init__(self, stream: TextIO | None = None) -> None:
        """On stderr, through a buffer of its own; or on `stream`."""
        if stream is None:
            stream = open(sys.stderr.fileno(), "w", buffering=1 << 16, closefd=False)  # noqa: SIM115
        super().__init__(stream)
        self._flushed = time.monotonic()
        self._after_fork()
        atexit.register(self._flush_at_exit)
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        # A forked process has no thread of its parent's, and the parent's event may have been in
        # use by its thread at the fork: a new one of each.
        self._written = threading.Event()  # lines written out to the buffer and not yet flushed
        self._flusher: threading.Thread | None = None

    def _flush_later(self) -> None:
        while True:
            self._written.wait()
            time.sleep(self.FLUSH_SECONDS)
            self._written.clear()
            with contextlib.suppress(OSError, ValueError):  # closed
                self.flush()

    def _flush_at_exit(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # stderr may already be closed
            self.flush()

    def flush(self) -> None:
        self._flushed = time.monotonic()
        super().flush()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + "\n")
            if record.levelno >= logging.WARNING or time.monotonic() - self._flushed >= self.FLUSH_SECONDS:
                self.flush()
            elif not self._written.is_set():
                if self._flusher is None:
                    self._flusher = threading.Thread(target=self._flush_later, name="log-flush", daemon=True)
                    self._flusher.start()
                self._written.set()
        except Exception:
            self.handleError(record)


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if any(getattr(h, "_registry", False) for h in root.handlers):
        return
    # Our lines name no thread or process: skip looking them up for every record.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = BufferedStderr()
    handler.setFormatter(JsonFormatter())
    handler._registry = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Framework access logs would print raw paths and query strings; ours replace them.
    for noisy in ("uvicorn.access", "granian.access"):
        logging.getLogger(noisy).disabled = True


async def log_request(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Run one request through `app`, then log it. Wraps the whole app so 404/405 are logged too."""
    if scope["type"] != ScopeType.HTTP:
        await app(scope, receive, send)
        return
    start = time.perf_counter()
    status = 500

    async def send_wrapper(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        await send(message)

    try:
        await app(scope, receive, send_wrapper)
    finally:
        if access_logger.isEnabledFor(logging.INFO):
            fields = {
                "method": scope.get("method"),
                "path": scope.get("path_template") or "<unmatched>",
                "status": status,
                "duration_ms": round((time.perf_counter() - start) * 1000, 2),
            }
            # A record made directly: the caller's file and line, which logging would look up by
            # walking the stack for every request, say nothing here.
            record = access_logger.makeRecord(
                access_logger.name, logging.INFO, "", 0, "request", (), None, extra={"fields": fields}
            )
            access_logger.handle(record)
