"""Which database a request reads from (database.routing): a replica for the reads that may lag,
the primary for the rest; and after a write, the writer's keys remember where the primary's WAL
stood so that their next reads wait for a replica that has replayed it.

A client without a key (or one that wants a read to follow a write of its own elsewhere) may
send back the `Registry-Read-After` header a write answered with."""

from typing import Any, Final

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from registry.auth.dependencies import SCOPE_KEY, header_of
from registry.auth.principal import ANONYMOUS, Principal, Role
from registry.database import routing
from registry.http.errors import REPLICA_FAILED

READ_AFTER_HEADER: Final = "Registry-Read-After"
_READ_AFTER = READ_AFTER_HEADER.lower().encode()
# Who reads what may lag: people searching and matching, funders reading reports. Organizations
# and stewards manage what they wrote and read from the primary.
_LAGGING_READERS: Final = frozenset({Role.ANONYMOUS, Role.INITIATOR, Role.FUNDER})
_SAFE: Final = frozenset({"GET", "HEAD", "OPTIONS"})


def _read_after(scope: Scope) -> int:
    sent = header_of(scope, _READ_AFTER)
    if not sent:
        return 0
    try:
        return routing.parse_lsn(sent)
    except ValueError:
        return 0  # not ours to refuse: read from a replica that has replayed nothing in particular


async def _whole_body(receive: Receive) -> list[Any]:
    messages: list[Any] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            return messages


def _replaying(messages: list[Any]) -> Receive:
    pending = list(messages)

    async def receive() -> Any:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    return receive


def read_routing_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        found: routing.Routing | None = getattr(scope["app"].state, "routing", None)
        if scope["type"] != ScopeType.HTTP or found is None or not found.replicas:
            await app(scope, receive, send)
            return
        principal: Principal = scope.get(SCOPE_KEY, ANONYMOUS)  # type: ignore[assignment]
        handler = scope.get("route_handler")
        if handler is not None and handler.opt.get("replica_reads"):
            if principal.role in _LAGGING_READERS:
                await _on_replica(app, found, principal, scope, receive, send)
                return
            await app(scope, receive, send)
            return
        if scope["method"] in _SAFE:
            await app(scope, receive, send)
            return
        await _writing(app, found, principal, scope, receive, send)

    return middleware


async def _on_replica(
    app: ASGIApp, found: routing.Routing, principal: Principal, scope: Scope, receive: Receive, send: Send
) -> None:
    replica = found.for_read(max(principal.written_lsn, _read_after(scope)))
    if replica is None:
        found.served["primary"] += 1
        await app(scope, receive, send)
        return
    body = await _whole_body(receive)
    failed: BaseException | None = None

    async def sending(message: Message) -> None:
        nonlocal failed
        if failed is None and message["type"] == "http.response.start":
            failed = scope.get(REPLICA_FAILED)  # type: ignore[assignment]
        if failed is None:
            await send(message)  # else this answer is dropped: the primary gives it again

    with routing.reading_from(replica):
        await app(scope, _replaying(body), sending)
    if failed is None:
        found.served[replica.name] += 1
        return
    if not isinstance(failed, routing.NotReplayed):
        found.lost(replica, failed)
    scope.pop(REPLICA_FAILED, None)  # type: ignore[misc]
    found.served["primary"] += 1
    await app(scope, _replaying(body), send)  # the primary answers


async def _writing(
    app: ASGIApp, found: routing.Routing, principal: Principal, scope: Scope, receive: Receive, send: Send
) -> None:
    """A request that may write: once it has committed (before its answer leaves), its writers'
    keys are marked with the primary's WAL position, which the answer carries too."""
    writers: list[Any] = [principal.key_id] if principal.key_id is not None else []

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] < 400:
            position = await found.mark_written(writers)
            headers = list(message.get("headers", []))
            headers.append((_READ_AFTER, routing.format_lsn(position).encode()))
            message = {**message, "headers": headers}
        await send(message)

    with routing.collecting_writers(writers):
        await app(scope, receive, sending)
