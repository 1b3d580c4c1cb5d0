"""Settings: one frozen struct, read from the environment once, passed explicitly."""

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import msgspec


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    # None means "start the embedded PostgreSQL in data_dir" (the newcomer's path).
    database_url: str | None = None
    # Empty means: `.data` in the checkout this code runs from (or the working directory).
    data_dir: str = ""
    # Pool sizing per API process; scale out by adding processes, not by growing this.
    db_pool_size: int = 10
    db_max_overflow: int = 5
    db_pool_timeout_s: float = 3.0
    db_statement_timeout_ms: int = 5000
    ready_timeout_s: float = 2.0
    log_level: str = "INFO"
    # JSON overriding match scoring weights, e.g. '{"distance": 0.4}' (see matching/scoring.py).
    match_weights: str = ""
    # Counts of people below this are hidden in reports (11: 1-10 are never shown).
    report_threshold: int = 11
    # Reports' counts of people are taken once per period of this many hours (reports.releases).
    report_period_hours: float = 24.0
    # Multiplies the rate limits (throttling.LIMITS); the benchmark raises it.
    rate_limit_scale: float = 1.0
    # Load balancers whose X-Forwarded-For / Forwarded headers are believed: addresses or CIDRs,
    # comma-separated. Empty: the connecting address is the client (registry.http.forwarded).
    trusted_proxies: str = ""
    # A request body must arrive within this many seconds (else 408), so slow clients cannot
    # hold a worker's requests open.
    body_timeout_s: float = 10.0
    # Streaming replicas for reads that may lag (database.routing): URLs, comma-separated. Empty:
    # every query goes to DATABASE_URL.
    read_database_urls: str = ""
    # A replica further behind than this (seconds) is skipped; how often each process checks.
    replica_max_lag_s: float = 10.0
    replica_check_interval_s: float = 1.0
    # Connections per API process to each replica.
    replica_pool_size: int = 5
    # Notifications by SMTP (notifications.sender). No host: messages stay queued in the outbox
    # (`registry outbox` lists them). tls: starttls, tls (implicit, usually port 465) or none.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_tls: str = "starttls"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_from: str = "registry@localhost"
    # How often each API process's sender looks for messages due, in seconds.
    outbox_interval_s: float = 2.0
    debug: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        if url := env.get("DATABASE_URL"):
            values["database_url"] = url
        for field in msgspec.structs.fields(cls):
            key = f"REGISTRY_{field.name.upper()}"
            if key in env:
                values[field.name] = env[key]
        # convert() with strict=False parses "5000" into int and "true" into bool.
        return msgspec.convert(values, cls, strict=False)


def default_data_dir() -> Path:
    checkout = Path(__file__).resolve().parents[2]
    base = checkout if (checkout / "pyproject.toml").is_file() else Path.cwd()
    return base / ".data"


def data_dir(settings: Settings) -> Path:
    return Path(settings.data_dir) if settings.data_dir else default_data_dir()


def async_database_url(url: str) -> str:
    """Accept the usual postgres:// forms and pin the asyncpg driver."""
    for prefix in (
        "postgres://",
        "postgresql://",
        "postgresql+psycopg://",
        "postgresql+psycopg2://",
    ):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def asyncpg_dsn(url: str) -> str:
    """A SQLAlchemy-style URL (postgresql+asyncpg://..., ?host=/socket/dir kept) as an asyncpg DSN."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in ("postgresql", "postgres"):
        raise ValueError(f"not a PostgreSQL URL: {parts.scheme}://...")
    return urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, parts.fragment))
