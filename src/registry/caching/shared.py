"""Answers every API process may reuse: an encoded answer one process built for a version of the
data, kept in PostgreSQL (table shared_answer) so that another process asked the same question
reads it instead of building it again.

A process looks in its own cache first (`Caches.memo`), then here, and only then builds; what it
builds it keeps here too. An answer is found only for the version it was built from and for
`SECONDS` (scores follow the clock, as a process's own caches do); each process sweeps older
rows when it sees a new version, and once a minute. Keeping is best effort: an answer that
cannot be kept is still given. What is kept is what the caller gives (Caches.memo_shared: the
answer compressed).

One process builds an answer at a time: before it builds, it claims the answer (a row with an
empty body), and a process asked the same question meanwhile waits for the answer kept there
rather than build it too (with several processes, a burst of first questions after a change was
built by as many of them; docs/performance.md). A claim lasts CLAIM_SECONDS: when its builder fails
or goes away, the others build for themselves, at once if it said so, else once the claim is
that old."""

import asyncio
import hashlib
import logging
import math
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Final

import msgspec

from registry.caching.version import Version
from registry.database.reads import Reads

log = logging.getLogger("registry.caching")

SECONDS: Final = 300.0
CLAIM_SECONDS: Final = 2.0
# While another process builds: the first look again after WAIT_FIRST seconds, each next one
# after twice as long as the last, at most WAIT_MOST.
WAIT_FIRST: Final = 0.002
WAIT_MOST: Final = 0.05
SWEEP_EVERY: Final = 60.0

# An answer (not older than $4 seconds), or a claim on it (an empty body, not older than $5).
FETCH: Final = (
    "SELECT body FROM shared_answer WHERE cache = $1 AND digest = $2 AND version = $3"
    " AND made_at > now() - make_interval(secs => CASE WHEN body = '' THEN $5::float8 ELSE $4::float8 END)"
)
# A reused answer is not worth a wait for the disk: the statement's own transaction commits
# without waiting for its WAL to be flushed (set_config(..., true) lasts until that commit).
_QUICKLY: Final = "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS quick"
# Kept over its claim (or over an answer another process kept at the same moment: the same).
KEEP: Final = (
    f"INSERT INTO shared_answer (cache, digest, version, body) SELECT $1, $2, $3, $4 {_QUICKLY}"
    " ON CONFLICT (cache, digest, version) DO UPDATE SET body = excluded.body, made_at = now()"
)
# True when this process may build the answer: no row yet, or only a claim or answer too old.
CLAIM: Final = (
    f"INSERT INTO shared_answer (cache, digest, version, body) SELECT $1, $2, $3, '' {_QUICKLY}"
    " ON CONFLICT (cache, digest, version) DO UPDATE SET body = '', made_at = now()"
    " WHERE shared_answer.made_at <= now() - make_interval("
    "secs => CASE WHEN shared_answer.body = '' THEN $5::float8 ELSE $4::float8 END)"
    " RETURNING true"
)
RELEASE: Final = "DELETE FROM shared_answer WHERE cache = $1 AND digest = $2 AND version = $3 AND body = ''"
SWEEP: Final = "DELETE FROM shared_answer WHERE version < $1 OR made_at < now() - make_interval(secs => $2)"

_encoder = msgspec.json.Encoder(order="deterministic")  # sets sorted: the same in every process


def digest(*parts: Any) -> bytes:
    """A question's name in the table: the same in every process for equal parts."""
    return hashlib.sha256(_encoder.encode(parts)).digest()


def code_digest(*modules: ModuleType) -> bytes:
    """The source of the modules that build an answer: a part of its digest, so that processes of
    another release (scoring changed, say) do not reuse it."""
    return hashlib.sha256(b"".join(Path(m.__file__ or "").read_bytes() for m in modules)).digest()


class Shared:
    """One process's use of the table."""

    def __init__(self, seconds: float = SECONDS, claim_seconds: float = CLAIM_SECONDS) -> None:
        self.seconds = seconds
        self.claim_seconds = claim_seconds
        self._swept_version: Version | None = None
        self._swept_at = -math.inf

    async def fetch(self, reads: Reads, cache: str, key: bytes, version: Version) -> bytes | None:
        """The answer kept; b"" while another process has claimed it (it is building it); None."""
        found = await reads.fetchval(FETCH, cache, key, version, self.seconds, self.claim_seconds)
        return None if found is None else bytes(found)

    async def claim(self, writes: Reads, cache: str, key: bytes, version: Version) -> bool:
        """Whether this process is now the one to build the answer (else another is, or has).
        Best effort: when the table cannot be written, this process builds it as if claimed."""
        try:
            args = (cache, key, version, self.seconds, self.claim_seconds)
            return bool(await writes.fetchval(CLAIM, *args, writes=True))
        except Exception:
            log.warning("could not claim a shared answer", exc_info=True)
            return True

    async def release(self, writes: Reads, cache: str, key: bytes, version: Version) -> None:
        """This process will not keep the answer it claimed: those waiting for it build it."""
        try:
            await writes.fetchval(RELEASE, cache, key, version, writes=True)
        except Exception:  # they build it once the claim is CLAIM_SECONDS old
            log.warning("could not release a shared answer's claim", exc_info=True)

    async def wait(self, reads: Reads, cache: str, key: bytes, version: Version) -> bytes | None:
        """The answer another process claimed, once it keeps it; None when it keeps none (it
        failed, or its claim grew CLAIM_SECONDS old first)."""
        deadline = time.monotonic() + self.claim_seconds
        pause = WAIT_FIRST
        while time.monotonic() < deadline:
            await asyncio.sleep(pause)
            found = await self.fetch(reads, cache, key, version)
            if found != b"":
                return found
            pause = min(2 * pause, WAIT_MOST)
        return None

    async def keep(self, writes: Reads, cache: str, key: bytes, version: Version, body: bytes) -> None:
        try:
            await writes.fetchval(KEEP, cache, key, version, body, writes=True)
            now = time.monotonic()
            due = now - self._swept_at >= SWEEP_EVERY
            if self._swept_version is None or version > self._swept_version or due:
                self._swept_version, self._swept_at = version, now
                await writes.fetchval(SWEEP, version, self.seconds, writes=True)
        except Exception:  # the answer is given all the same; another process builds it again
            log.warning("could not keep a shared answer", exc_info=True)
