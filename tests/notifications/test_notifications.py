"""Notifications: written with the change (never for a rolled-back one), delivered by SMTP to a
real server running in the test, retried when the server says later, sent once however many
senders run, and carrying no message text, search terms or place."""

import asyncio
import logging
import socket
import uuid
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from registry.auth.principal import Principal, Role
from registry.database.base import utcnow
from registry.introductions.schemas import IntroductionCreate
from registry.introductions.service import create_introduction
from registry.models import Introduction, Listing, OutboxAttempt, OutboxMessage
from registry.notifications.sender import Sender, Smtp, retry_delay
from tests.factories import Client, bearer, register_org, role_key, verified_org
from tests.introductions.test_introductions import new_initiator
from tests.matching.fixtures import UTRECHT

SECRET_MESSAGE = "We meet on Tuesdays behind the old library"


class Inbox:
    """An SMTP server's handler: keeps what it accepts; refuses recipients it is told to."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], Message]] = []
        self.refuse: list[str] = []  # responses for the next RCPT commands, in order

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.refuse:
            return self.refuse.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.received.append((list(envelope.rcpt_tos), message_from_bytes(content)))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, Smtp]]:
    handler = Inbox()
    # The test's SMTP server logs each envelope: its logs are not the registry's.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield (
            handler,
            Smtp(host="127.0.0.1", port=port, tls="none", username="", password="", sender="r@example.org"),
        )
    finally:
        controller.stop()


async def partner_of(client: Client, db: AsyncSession, email: str | None) -> tuple[dict[str, Any], str, str]:
    steward = await role_key(db)
    org, key = await verified_org(client, steward, kinds=["clinician"], notification_email=email)
    created = await client.post(
        "/partners",
        json={"kind": "clinician", "name": "Dr Notified", "location": UTRECHT},
        headers=bearer(key),
    )
    assert created.status_code == 201, created.text
    return created.json(), key, org["id"]


async def outbox(db: AsyncSession) -> list[OutboxMessage]:
    return list((await db.scalars(select(OutboxMessage).order_by(OutboxMessage.created_at))).all())


async def test_an_introduction_is_told_to_each_side_by_smtp(
    client: Client,
    db: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    inbox: tuple[Inbox, Smtp],
) -> None:
    server, smtp = inbox
    listing, org_key, _ = await partner_of(client, db, "intake@clinic.example.org")
    assert [m.event for m in await outbox(db)] == ["organization_verified"]
    assert await Sender(sessionmaker, smtp).run_once() == ["sent"]
    server.received.clear()
    _, initiator_key = await new_initiator(client, "robin@example.org")
    asked = await client.post(
        "/introductions",
        json={"target_id": listing["id"], "message": SECRET_MESSAGE},
        headers=bearer(initiator_key),
    )
    assert asked.status_code == 201, asked.text
    intro_id = asked.json()["id"]

    (queued,) = [m for m in await outbox(db) if m.event == "introduction_requested"]
    assert queued.status == "queued" and queued.recipient == "intake@clinic.example.org"
    assert intro_id in queued.body and "Robin" in queued.body  # who asked, and the id to read it by
    assert SECRET_MESSAGE not in queued.body + queued.subject
    assert "Utrecht" not in queued.body and "52.0" not in queued.body  # no place

    assert await Sender(sessionmaker, smtp).run_once() == ["sent"]
    ((to, mail),) = server.received
    assert to == ["intake@clinic.example.org"] and mail["Subject"] == "An introduction was requested"
    assert intro_id in mail.get_payload() and SECRET_MESSAGE not in mail.as_string()
    await db.refresh(queued)
    assert queued.status == "sent" and queued.attempts == 1 and queued.sent_at is not None
    attempts = (await db.scalars(select(OutboxAttempt).where(OutboxAttempt.message_id == queued.id))).all()
    assert [a.outcome for a in attempts] == ["sent"]

    accepted = await client.post(f"/introductions/{intro_id}/accept", headers=bearer(org_key))
    assert accepted.status_code == 200, accepted.text
    assert await Sender(sessionmaker, smtp).run_once() == ["sent"]
    to, mail = server.received[-1]
    assert to == ["robin@example.org"] and "accepted" in mail["Subject"]
    assert await Sender(sessionmaker, smtp).run_once() == []  # nothing twice


async def test_a_declined_or_expired_request_is_told_to_the_initiator(
    client: Client, db: AsyncSession
) -> None:
    listing, org_key, _ = await partner_of(client, db, "intake@clinic.example.org")
    _, initiator_key = await new_initiator(client, "sam@example.org")
    ids = []
    for _ in range(2):
        asked = await client.post(
            "/introductions",
            json={"target_id": listing["id"], "message": "hello"},
            headers=bearer(initiator_key),
        )
        assert asked.status_code == 201, asked.text
        ids.append(asked.json()["id"])
    declined = await client.post(f"/introductions/{ids[0]}/decline", headers=bearer(org_key))
    assert declined.status_code == 200
    await db.execute(
        update(Introduction)
        .where(Introduction.id == uuid.UUID(ids[1]))
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    await db.commit()
    assert (await client.get("/introductions", headers=bearer(initiator_key))).status_code == 200
    told = {(m.event, m.recipient) for m in await outbox(db)}
    assert ("introduction_declined", "sam@example.org") in told
    assert ("introduction_expired", "sam@example.org") in told
    # Read again: the expiry is told once.
    assert (await client.get("/introductions", headers=bearer(initiator_key))).status_code == 200
    assert sum(m.event == "introduction_expired" for m in await outbox(db)) == 1


async def test_a_rolled_back_change_sends_nothing(
    client: Client, db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    listing, _, _ = await partner_of(client, db, "intake@clinic.example.org")
    initiator, _ = await new_initiator(client, "kim@example.org")
    principal = Principal(role=Role.INITIATOR, initiator_id=uuid.UUID(initiator["id"]))
    async with sessionmaker() as session:
        await session.begin()
        await create_introduction(
            session, principal, IntroductionCreate(target_id=uuid.UUID(listing["id"]), message="hi")
        )
        written = select(func.count()).where(OutboxMessage.event == "introduction_requested")
        assert await session.scalar(written) == 1  # written with it
        await session.rollback()
    assert [m.event for m in await outbox(db)] == ["organization_verified"]


async def test_a_server_that_says_later_is_tried_again_and_one_that_refuses_is_not(
    client: Client,
    db: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    inbox: tuple[Inbox, Smtp],
) -> None:
    server, smtp = inbox
    listing, _, _ = await partner_of(client, db, "intake@clinic.example.org")
    await db.execute(delete(OutboxMessage))  # the organization's verification: not this test's
    await db.commit()
    _, initiator_key = await new_initiator(client)
    await client.post(
        "/introductions", json={"target_id": listing["id"], "message": "hi"}, headers=bearer(initiator_key)
    )
    sender = Sender(sessionmaker, smtp)

    server.refuse = ["451 4.3.0 Mailbox busy, try again later"]
    assert await sender.run_once() == ["deferred"]
    (message,) = await outbox(db)
    await db.refresh(message)
    assert message.status == "queued" and message.attempts == 1 and "451" in (message.last_error or "")
    assert message.next_attempt_at >= utcnow() + retry_delay(1) - timedelta(seconds=5)
    assert await sender.run_once() == []  # not before its time
    assert server.received == []

    await db.execute(update(OutboxMessage).values(next_attempt_at=func.now()))
    await db.commit()
    assert await sender.run_once() == ["sent"]
    assert len(server.received) == 1
    outcomes = (await db.scalars(select(OutboxAttempt.outcome).order_by(OutboxAttempt.id))).all()
    assert outcomes == ["deferred", "sent"]

    org, _ = await register_org(client, notification_email="nobody@clinic.example.org")
    steward = await role_key(db)
    assert (
        await client.post(f"/organizations/{org['id']}/verify", headers=bearer(steward))
    ).status_code == 200
    server.refuse = ["550 5.1.1 No such user"]
    assert await sender.run_once() == ["refused"]
    refused = await db.scalar(select(OutboxMessage).where(OutboxMessage.event == "organization_verified"))
    assert refused is not None
    await db.refresh(refused)
    assert refused.status == "failed" and refused.attempts == 1
    assert retry_delay(1) < retry_delay(2) < retry_delay(3) and retry_delay(50) == timedelta(hours=6)


async def test_a_server_that_is_down_is_tried_again(
    client: Client, db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    org, _ = await register_org(client, notification_email="office@example.org")
    steward = await role_key(db)
    await client.post(f"/organizations/{org['id']}/verify", headers=bearer(steward))
    nowhere = Smtp(
        host="127.0.0.1", port=free_port(), tls="none", username="", password="", sender="r@example.org"
    )
    assert await Sender(sessionmaker, nowhere).run_once() == ["deferred"]
    (message,) = await outbox(db)
    await db.refresh(message)
    assert message.status == "queued" and message.last_error


async def test_two_senders_send_each_message_once(engine: AsyncEngine, inbox: tuple[Inbox, Smtp]) -> None:
    """Committed messages, two senders on their own connections at the same moment."""
    server, smtp = inbox
    makers = [async_sessionmaker(engine, expire_on_commit=False) for _ in range(2)]
    keys = [f"test_two_senders:{uuid.uuid4()}" for _ in range(12)]
    async with makers[0]() as session, session.begin():
        for n, key in enumerate(keys):
            session.add(
                OutboxMessage(
                    event="test", event_key=key, recipient=f"p{n}@example.org", subject="s", body="b"
                )
            )
    try:
        outcomes = await asyncio.gather(*(Sender(m, smtp).run_once() for m in makers))
        assert sum(len(o) for o in outcomes) == len(keys)
        recipients = sorted(to[0] for to, _ in server.received)
        assert recipients == sorted(f"p{n}@example.org" for n in range(len(keys)))  # each once
    finally:
        async with makers[0]() as session, session.begin():
            await session.execute(delete(OutboxMessage).where(OutboxMessage.event_key.in_(keys)))


async def test_a_listing_eleven_months_unverified_is_told_once(
    client: Client, db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    listing, _, _ = await partner_of(client, db, "intake@clinic.example.org")
    sender = Sender(sessionmaker, None)
    assert await sender.scan() == 0
    await db.execute(
        update(Listing)
        .where(Listing.id == uuid.UUID(listing["id"]))
        .values(last_verified_at=utcnow() - timedelta(days=340))
    )
    await db.commit()
    assert await sender.scan() == 1
    assert await sender.scan() == 0  # once
    (message,) = [m for m in await outbox(db) if m.event == "listing_reverification_due"]
    assert message.recipient == "intake@clinic.example.org" and f"{listing['id']}/reverify" in message.body
    assert await sender.run_once() == []  # without SMTP it stays queued
    await db.refresh(message)
    assert message.status == "queued"


async def test_the_notification_address_is_the_organizations_own(client: Client, db: AsyncSession) -> None:
    org, key = await register_org(client, notification_email="private@example.org")
    assert org["notification_email"] == "private@example.org"
    own = await client.get(f"/organizations/{org['id']}", headers=bearer(key))
    assert own.json()["notification_email"] == "private@example.org"
    steward = await role_key(db)
    assert (await client.post(f"/organizations/{org['id']}/verify", headers=bearer(steward))).json()[
        "notification_email"
    ] == "private@example.org"
    _, other_key = await register_org(client)
    for headers in ({}, bearer(other_key)):
        seen = await client.get(f"/organizations/{org['id']}", headers=headers)
        assert seen.status_code == 200 and "notification_email" not in seen.json()
        listed = await client.get("/organizations", headers=headers)
        assert all("notification_email" not in o for o in listed.json()["items"] if o["id"] == org["id"])
    bad = await client.post(
        "/organizations", json={"name": "X", "kinds": ["trainer"], "notification_email": "nope"}
    )
    assert bad.status_code in (400, 422) and "notification_email" in bad.text
    etag = (await client.get(f"/organizations/{org['id']}", headers=bearer(key))).headers["ETag"]
    changed = await client.patch(
        f"/organizations/{org['id']}",
        json={"notification_email": "new@example.org"},
        headers={**bearer(key), "If-Match": etag},
    )
    assert changed.status_code == 200 and changed.json()["notification_email"] == "new@example.org"


async def test_registry_outbox_lists_what_would_be_sent(database_url: str, engine: AsyncEngine) -> None:
    from tests.test_cli import cli_env, run_cli

    maker = async_sessionmaker(engine, expire_on_commit=False)
    key = f"test_cli:{uuid.uuid4()}"
    async with maker() as session, session.begin():
        session.add(
            OutboxMessage(
                event="introduction_requested",
                event_key=key,
                recipient="desk@example.org",
                subject="An introduction was requested",
                body="GET /introductions/abc",
            )
        )
    try:
        env = cli_env(DATABASE_URL=database_url)
        env.pop("REGISTRY_SMTP_HOST", None)
        result = await asyncio.to_thread(run_cli, "outbox", "--bodies", env=env)
        assert result.returncode == 0, result.stderr
        assert "SMTP is not configured" in result.stdout
        assert "queued" in result.stdout and "desk@example.org" in result.stdout
        assert "GET /introductions/abc" in result.stdout
        sent_only = await asyncio.to_thread(run_cli, "outbox", "--status", "sent", env=env)
        assert "desk@example.org" not in sent_only.stdout
    finally:
        async with maker() as session, session.begin():
            await session.execute(delete(OutboxMessage).where(OutboxMessage.event_key == key))
