"""Structured request logs: one JSON line per request, with nothing sensitive in it.

Only method, path *template* (never the raw path or query string, which may hold search terms
or coordinates), status and duration are logged; bodies and headers never are.
"""

import logging
import sys
import time
from typing import Any

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

access_logger = logging.getLogger("registry.access")
_encoder = msgspec.json.Encoder(enc_hook=str)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
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


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if any(getattr(h, "_registry", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
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
        access_logger.info(
            "request",
            extra={
                "fields": {
                    "method": scope.get("method"),
                    "path": scope.get("path_template") or "<unmatched>",
                    "status": status,
                    "duration_ms": round((time.perf_counter() - start) * 1000, 2),
                }
            },
        )
