"""Idempotency-Key on creates: a retried request (same key, same body) gets the first answer
and creates nothing new; the same key with another body is refused.

The key is held under a PostgreSQL advisory lock while the first request runs, so concurrent
retries wait for it instead of racing it. The answer is recorded after the create committed;
a crash between the two is the one window in which a retry creates again."""

import hashlib
from typing import Any

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from registry.errors import InvalidInput
from registry.models import IdempotencyRecord
from registry.throttling import client_identity

HEADER = "idempotency-key"
MAX_KEY_LENGTH = 200


async def _read_body(receive: Receive) -> tuple[bytes, list[Any]]:
    messages: list[Any] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks), messages


def idempotency_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler")
        connection: ASGIConnection = ASGIConnection(scope)  # type: ignore[type-arg]
        key = connection.headers.get(HEADER) if scope["type"] == ScopeType.HTTP else None
        if key is None or handler is None or not handler.opt.get("idempotent"):
            await app(scope, receive, send)
            return
        if not 1 <= len(key) <= MAX_KEY_LENGTH:
            raise InvalidInput(f"Idempotency-Key: 1 to {MAX_KEY_LENGTH} characters")
        body, messages = await _read_body(receive)
        scope_key = f"{client_identity(scope)}:{scope['path']}:{hashlib.sha256(key.encode()).hexdigest()}"
        method = str(connection.scope.get("method", ""))
        request_hash = hashlib.sha256(f"{method} {scope['path']}\n".encode() + body).digest()
        bind = connection.app.state.sessionmaker.kw["bind"]
        # A separate connection: the lock and the record outlive the request's own transaction.
        engine = bind.engine if isinstance(bind, AsyncConnection) else bind
        async with engine.connect() as lock_conn:
            await lock_conn.execute(select(func.pg_advisory_lock(func.hashtext(scope_key))))
            try:
                await _serve(app, scope, send, messages, lock_conn, scope_key, request_hash)
            finally:
                await lock_conn.execute(select(func.pg_advisory_unlock(func.hashtext(scope_key))))
                await lock_conn.commit()

    return middleware


async def _serve(
    app: ASGIApp,
    scope: Scope,
    send: Send,
    messages: list[Message],
    conn: Any,
    scope_key: str,
    request_hash: bytes,
) -> None:
    stored = (
        await conn.execute(select(IdempotencyRecord).where(IdempotencyRecord.scope == scope_key))
    ).one_or_none()
    await conn.commit()
    if stored is not None:
        if stored.request_hash != request_hash:
            raise InvalidInput(
                "This Idempotency-Key was used with a different request; use a new key for a new request."
            )
        await send(
            {
                "type": "http.response.start",
                "status": stored.status_code,
                "headers": [(b"content-type", stored.content_type.encode()), (b"idempotent-replay", b"true")],
            }
        )
        await send({"type": "http.response.body", "body": stored.body, "more_body": False})
        return

    replay = list(messages)

    async def replay_receive() -> Any:
        if replay:
            return replay.pop(0)
        return {"type": "http.disconnect"}

    status = 0
    content_type = "application/json"
    chunks: list[bytes] = []

    async def capture(message: Message) -> None:
        nonlocal status, content_type
        if message["type"] == "http.response.start":
            status = message["status"]
            for name, value in message.get("headers", []):
                if name.lower() == b"content-type":
                    content_type = value.decode()
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
        await send(message)

    await app(scope, replay_receive, capture)
    if 200 <= status < 300:
        await conn.execute(
            insert(IdempotencyRecord)
            .values(
                scope=scope_key,
                request_hash=request_hash,
                status_code=status,
                content_type=content_type,
                body=b"".join(chunks),
            )
            .on_conflict_do_nothing()
        )
        await conn.execute(text("DELETE FROM idempotency_record WHERE created_at < now() - interval '1 day'"))
        await conn.commit()
