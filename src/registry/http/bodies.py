"""Request bodies are read whole before anything else runs for the request: within a deadline
(408: a client that declares 1,000 bytes and sends 5 cannot hold a request open, nor a database
connection, which nothing has taken yet), within 64 KiB (413), and nested at most MAX_NESTING deep
(400: the JSON decoder recurses, and a body of 1,000 brackets would exhaust Python's stack)."""

import asyncio
import re
from typing import Any

import msgspec
from litestar import Request
from litestar.enums import ScopeType
from litestar.exceptions import ValidationException
from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send

from registry.http.errors import PROBLEM_MEDIA_TYPE, problem_type

MAX_BODY_BYTES = 64 * 1024
MAX_NESTING = 32
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


def nesting_depth(body: bytes) -> int:
    """How deep JSON arrays and objects nest in `body` (brackets inside strings do not count)."""
    if body.count(b"[") + body.count(b"{") <= MAX_NESTING:
        return 0  # cannot be deeper than the limit: no need to look closer
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', body)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


class BodyRefused(Exception):
    def __init__(self, status: int, slug: str, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail


def _has_body(scope: Scope) -> int | None:
    """The declared length (-1 when chunked), or None when the request has no body."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return -1
            return length or None
        if name == b"transfer-encoding":
            return -1
    return None


async def read_body(receive: Receive, timeout_s: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        # One deadline for the whole body (a timeout scope, not a task per chunk as `wait_for`).
        async with asyncio.timeout(timeout_s):
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    raise asyncio.CancelledError  # the client went away
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise _too_large()
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)
    except TimeoutError:
        raise BodyRefused(
            408,
            "request-timeout",
            "Request timeout",
            f"The request body did not arrive within {timeout_s:g} seconds.",
        ) from None


def _too_large() -> BodyRefused:
    return BodyRefused(
        413, "payload-too-large", "Request body too large", f"Bodies are at most {MAX_BODY_BYTES} bytes."
    )


def check(body: bytes) -> None:
    if nesting_depth(body) > MAX_NESTING:
        raise BodyRefused(
            400, "bad-request", "Bad request", f"The JSON body nests deeper than {MAX_NESTING} levels."
        )


async def _refuse(send: Send, refused: BodyRefused) -> None:
    body = msgspec.json.encode(
        {
            "type": problem_type(refused.slug),
            "title": refused.title,
            "status": refused.status,
            "detail": refused.detail,
        }
    )
    headers = [(b"content-type", PROBLEM_MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode())]
    if refused.status in (408, 413):
        headers.append((b"connection", b"close"))  # the rest of the body is not read
    await send({"type": "http.response.start", "status": refused.status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def guarded(app: ASGIApp, scope: Scope, receive: Receive, send: Send, timeout_s: float) -> None:
    """Run `app` with the request's body already read and checked (see the module's docstring)."""
    declared = _has_body(scope) if scope["type"] == ScopeType.HTTP else None
    if declared is None:
        await app(scope, receive, send)
        return
    try:
        if declared > MAX_BODY_BYTES:
            raise _too_large()
        body = await read_body(receive, timeout_s)
        check(body)
    except BodyRefused as refused:
        await _refuse(send, refused)
        return
    delivered = False

    async def replay() -> ReceiveMessage:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    await app(scope, replay, send)


async def strict_body(request: Request[Any, Any, Any]) -> None:
    """JSON bodies are decoded strictly before the handler's own (lax) conversion: `0` is not a
    boolean and `"5"` is not a number, as the schema says."""
    field = request.route_handler.parsed_fn_signature.parameters.get("data")
    if field is None:
        return
    body = await request.body()
    if not body:
        return  # a missing body is the handler's own validation error
    try:
        msgspec.json.decode(body, type=field.annotation)
    except msgspec.ValidationError as exc:
        message, _, at = str(exc).partition(" - at `")
        key = at.rstrip("`").removeprefix("$").lstrip(".") or "body"
        raise ValidationException(
            detail=f"{key}: {message}", extra=[{"key": key, "message": message, "source": "body"}]
        ) from None
    except msgspec.DecodeError:
        return  # malformed JSON: the handler's decoding answers 400
