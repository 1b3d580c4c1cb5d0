"""Idempotency-Key on creates: a retry (same key, same body) gets the first answer and creates
nothing; the same key with another body is refused. The key is held under an advisory lock while
the first request runs. An answer that issued an API key is kept without it (no usable secret at
rest, DOMAIN.md rule 9): its retry gets 409 `key-shown-once` with the created resource, no key."""

import hashlib
from typing import Any

import msgspec
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from registry.auth.keys import KEY_IN_JSON
from registry.http.errors import PROBLEM_MEDIA_TYPE, InvalidInput, KeyShownOnce
from registry.http.throttling import client_identity
from registry.models import IdempotencyRecord

HEADER = "idempotency-key"
MAX_KEY_LENGTH = 200
REPLAY_HEADER = "Idempotent-Replay"
SHOWN_ONCE = (
    "This request was carried out already; the API key it issued was shown once, in that first "
    "answer, and is not kept anywhere, so a retry cannot show it again. `resource` is what was "
    "created, without its key. A lost key cannot be recovered: revoke it and create another, or "
    "register again with a new Idempotency-Key."
)


class KeyShownOnceProblem(msgspec.Struct, kw_only=True):
    type: str
    title: str
    status: int
    detail: str
    resource: dict[str, Any]


# For the routes whose answer holds a new key: what their retry with the same Idempotency-Key gets.
KEY_SHOWN_ONCE_RESPONSES = {
    409: ResponseSpec(
        data_container=KeyShownOnceProblem,
        media_type=PROBLEM_MEDIA_TYPE,
        description=(
            "A retry with the same Idempotency-Key and body (`Idempotent-Replay: true`): the key was "
            "shown once, in the first answer, and is not kept; `resource` is what was created, "
            "without its key (type /problems/key-shown-once)."
        ),
    )
}


def withhold_keys(body: bytes) -> tuple[bytes, bool]:
    """The answer with every API key in it replaced by null, and whether there was one."""
    withheld, count = KEY_IN_JSON.subn(b"null", body)
    return withheld, count > 0


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
        if handler is None or not handler.opt.get("idempotent") or scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        connection: ASGIConnection = ASGIConnection(scope)  # type: ignore[type-arg]
        key = connection.headers.get(HEADER)
        if key is None:
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
        if stored.key_withheld:
            raise KeyShownOnce(
                SHOWN_ONCE,
                extra={"resource": msgspec.json.decode(stored.body)},
                headers={REPLAY_HEADER: "true"},
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
        body, withheld = withhold_keys(b"".join(chunks))
        await conn.execute(
            insert(IdempotencyRecord)
            .values(
                scope=scope_key,
                request_hash=request_hash,
                status_code=status,
                content_type=content_type,
                body=body,
                key_withheld=withheld,
            )
            .on_conflict_do_nothing()
        )
        await conn.execute(text("DELETE FROM idempotency_record WHERE created_at < now() - interval '1 day'"))
        await conn.commit()
