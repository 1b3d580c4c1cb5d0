"""Delivering the outbox by SMTP: one message at a time, each in a transaction that holds its row
(`FOR UPDATE SKIP LOCKED`) while it is sent, so however many API processes run a sender a message
goes out once; every attempt is recorded; a server that says "later" (4xx, no answer) is tried
again with growing delays, one that refuses (5xx) is not.

Without SMTP settings (the embedded default) nothing is delivered: messages stay queued, and
`registry outbox` lists them. The sender also queues the reminders no request causes (listings
due for re-verification)."""

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.config import Settings
from registry.database.base import utcnow
from registry.models import OutboxAttempt, OutboxMessage
from registry.notifications.events import listings_due_for_reverification

log = logging.getLogger("registry.notifications")

MAX_ATTEMPTS = 8
FIRST_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=6)
SCAN_EVERY_S = 3600.0


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int
    tls: str  # "starttls", "tls" (implicit, port 465) or "none"
    username: str
    password: str
    sender: str
    timeout_s: float = 20.0

    @classmethod
    def from_settings(cls, settings: Settings) -> "Smtp | None":
        if not settings.smtp_host:
            return None
        if settings.smtp_tls not in ("starttls", "tls", "none"):
            raise ValueError("REGISTRY_SMTP_TLS: starttls, tls or none")
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            tls=settings.smtp_tls,
            username=settings.smtp_username,
            password=settings.smtp_password,
            sender=settings.smtp_from,
        )


def retry_delay(attempts: int) -> timedelta:
    """After the n-th failed attempt: 30 s, 1 min, 2 min, ... at most 6 hours."""
    return min(FIRST_DELAY * (1 << min(max(attempts - 1, 0), 20)), MAX_DELAY)


def email_of(message: OutboxMessage, sender: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Message-ID"] = make_msgid(idstring=str(message.id), domain=sender.rpartition("@")[2] or None)
    email["X-Registry-Event"] = message.event
    email.set_content(message.body)
    return email


class Sender:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        smtp: Smtp | None,
        *,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.smtp = smtp
        self.max_attempts = max_attempts

    async def _send(self, message: OutboxMessage) -> tuple[str, str | None]:
        """("sent" | "deferred" | "refused", what the server said)."""
        assert self.smtp is not None
        smtp = self.smtp
        try:
            await aiosmtplib.send(
                email_of(message, smtp.sender),
                hostname=smtp.host,
                port=smtp.port,
                username=smtp.username or None,
                password=smtp.password or None,
                use_tls=smtp.tls == "tls",
                start_tls=smtp.tls == "starttls",
                timeout=smtp.timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            detail = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)[:500]
            return ("refused" if codes and min(codes) >= 500 else "deferred"), detail
        except aiosmtplib.SMTPResponseException as exc:
            return ("refused" if exc.code >= 500 else "deferred"), f"{exc.code} {exc.message}"[:500]
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return "deferred", f"{type(exc).__name__}: {exc}"[:500]
        return "sent", None

    async def deliver_one(self) -> str | None:
        """Send the oldest due message, if any: its outcome, or None when none is due."""
        if self.smtp is None:
            return None
        async with self.sessionmaker() as session, session.begin():
            message = await session.scalar(
                select(OutboxMessage)
                .where(OutboxMessage.status == "queued", OutboxMessage.next_attempt_at <= func.now())
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if message is None:
                return None
            outcome, detail = await self._send(message)
            now = utcnow()
            message.attempts += 1
            session.add(OutboxAttempt(message_id=message.id, outcome=outcome, detail=detail, at=now))
            if outcome == "sent":
                message.status, message.sent_at, message.last_error = "sent", now, None
            elif outcome == "refused" or message.attempts >= self.max_attempts:
                message.status, message.last_error = "failed", detail
            else:
                message.next_attempt_at, message.last_error = now + retry_delay(message.attempts), detail
            log.info("outbox message %s: %s (attempt %d)", message.id, outcome, message.attempts)
            return outcome

    async def run_once(self, limit: int = 100) -> list[str]:
        """Deliver what is due, up to `limit` messages: their outcomes."""
        outcomes: list[str] = []
        while len(outcomes) < limit and (outcome := await self.deliver_one()) is not None:
            outcomes.append(outcome)
        return outcomes

    async def scan(self) -> int:
        """Queue the reminders that are due (listings 11 months past their verification)."""
        async with self.sessionmaker() as session, session.begin():
            return await listings_due_for_reverification(session, utcnow())

    async def run(self, stop: asyncio.Event, interval_s: float) -> None:
        """Until `stop`: deliver what is due every `interval_s`, scan for reminders hourly. A
        failure (the database restarting, say) is logged and tried again at the next turn."""
        scanned_at = float("-inf")
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                if loop.time() - scanned_at >= SCAN_EVERY_S:
                    await self.scan()
                    scanned_at = loop.time()
                await self.run_once()
            except Exception:
                log.warning("outbox: a delivery turn failed; trying again", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
