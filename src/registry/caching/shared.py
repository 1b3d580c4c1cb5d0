"""Answers every API process may reuse: an encoded answer one process built for a version of the
data, kept in PostgreSQL (table shared_answer) so that another process asked the same question
reads it instead of building it again.

A process looks in its own cache first (`Caches.memo`), then here, and only then builds; what it
builds it keeps here too. An answer is found only for the version it was built from and for
`SECONDS` (scores follow the clock, as a process's own caches do); each process sweeps older
rows when it sees a new version, and once a minute. Keeping is best effort: an answer that
cannot be kept is still given. What is kept is what the caller gives (Caches.memo_shared: the
answer compressed)."""

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
SWEEP_EVERY: Final = 60.0

FETCH: Final = (
    "SELECT body FROM shared_answer WHERE cache = $1 AND digest = $2 AND version = $3"
    " AND made_at > now() - make_interval(secs => $4)"
)
# A reused answer is not worth a wait for the disk: the statement's own transaction commits
# without waiting for its WAL to be flushed (set_config(..., true) lasts until that commit).
KEEP: Final = (
    "INSERT INTO shared_answer (cache, digest, version, body)"
    " SELECT $1, $2, $3, $4 FROM (SELECT set_config('synchronous_commit', 'off', true)) AS quick"
    " ON CONFLICT DO NOTHING"
)
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

    def __init__(self, seconds: float = SECONDS) -> None:
        self.seconds = seconds
        self._swept_version: Version | None = None
        self._swept_at = -math.inf

    async def fetch(self, reads: Reads, cache: str, key: bytes, version: Version) -> bytes | None:
        found = await reads.fetchval(FETCH, cache, key, version, self.seconds)
        return None if found is None else bytes(found)

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
