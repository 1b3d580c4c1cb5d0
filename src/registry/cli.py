"""The `registry` command: serve, migrate, seed, import-hsds, outbox, keys."""

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth.principal import Role
from registry.config import Settings, data_dir
from registry.database.embedded import database_url
from registry.database.migrations import upgrade
from registry.database.sessions import create_engine, create_sessionmaker

T = TypeVar("T")


def _with_session(url: str, settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(settings, url)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from granian import Granian
    from granian.constants import Interfaces

    with database_url(settings.database_url, data_dir(settings)) as url:
        if args.migrate:
            upgrade(url)
        if args.seed_if_empty:
            from registry.seeding import database_is_empty, load_seeds

            async def seed_if_empty(session: AsyncSession) -> None:
                if await database_is_empty(session):
                    await load_seeds(session)

            _with_session(url, settings, seed_if_empty)
        # Worker processes build their own app from the environment.
        os.environ["DATABASE_URL"] = url
        base = f"http://{args.host}:{args.port}"
        print(f"registry: API on {base}  docs on {base}/schema  (Ctrl-C stops)", flush=True)
        Granian(
            "registry.app:create_server_app",
            factory=True,
            address=args.host,
            port=args.port,
            workers=args.workers,
            interface=Interfaces.ASGI,
            log_access=False,
        ).serve()
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    with database_url(settings.database_url, data_dir(settings)) as url:
        upgrade(url)
    print("migrations applied")
    return 0


def cmd_seed(args: argparse.Namespace, settings: Settings) -> int:
    from registry.seeding import load_seeds

    with database_url(settings.database_url, data_dir(settings)) as url:
        upgrade(url)
        if args.synthetic is not None:
            from registry import synthetic

            report = synthetic.run(url, args.synthetic, args.random_seed)
            print(report.summary())
            return 0
        counts = _with_session(url, settings, load_seeds)
    print("seeded: " + ", ".join(f"{n} {name}" for name, n in counts.items()))
    return 0


def cmd_keys_create(args: argparse.Namespace, settings: Settings) -> int:
    from registry.organizations.service import create_role_key

    role = Role(args.role)
    with database_url(settings.database_url, data_dir(settings)) as url:
        upgrade(url)
        key = _with_session(url, settings, lambda s: create_role_key(s, None, role, args.label))
    print(f"created {role.value} key {key.prefix}... (id {key.id}); it is shown only once:")
    print(key.key)
    return 0


def cmd_revision(args: argparse.Namespace, settings: Settings) -> int:
    from alembic import command

    from registry.database.migrations import alembic_config

    with database_url(settings.database_url, data_dir(settings)) as url:
        upgrade(url)
        command.revision(alembic_config(url), message=args.message, autogenerate=True)
    return 0


def cmd_import_hsds(args: argparse.Namespace, settings: Settings) -> int:
    from registry.hsds.importer import format_report, run_import

    with database_url(settings.database_url, data_dir(settings)) as url:
        upgrade(url)
        try:
            report = run_import(url, Path(args.path), settings)
        except (OSError, ValueError) as exc:  # unreadable file, bad JSON, a bad ndjson line
            print(f"registry import-hsds: {exc}", file=sys.stderr)
            return 2
    print(format_report(report))
    return 1 if report.failed else 0


def cmd_outbox(args: argparse.Namespace, settings: Settings) -> int:
    from registry.database.base import utcnow
    from registry.notifications.events import listings_due_for_reverification
    from registry.notifications.outbox import listed

    with database_url(settings.database_url, data_dir(settings)) as url:
        upgrade(url)

        async def messages(session: AsyncSession) -> list[str]:
            lines = []
            for m in await listed(session, status=args.status, limit=args.limit):
                lines.append(
                    f"{m.created_at:%Y-%m-%d %H:%M:%S}  {m.status:<6}  attempts {m.attempts}  "
                    f"{m.event}  to {m.recipient}  {m.subject!r}"
                )
                if args.bodies:
                    lines.append("    " + m.body.rstrip().replace("\n", "\n    "))
                if m.last_error:
                    lines.append(f"    last error: {m.last_error}")
            return lines

        if args.scan:
            queued = _with_session(url, settings, lambda s: listings_due_for_reverification(s, utcnow()))
            print(f"queued {queued} re-verification reminders")
        lines = _with_session(url, settings, messages)
    if not settings.smtp_host:
        print("SMTP is not configured (REGISTRY_SMTP_HOST): messages stay queued; these would be sent.")
    print("\n".join(lines) if lines else "the outbox is empty")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="registry", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the API (embedded PostgreSQL if DATABASE_URL is unset)")
    serve.add_argument("--host", default=os.environ.get("REGISTRY_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("REGISTRY_PORT", "8000")))
    serve.add_argument("--workers", type=int, default=int(os.environ.get("REGISTRY_WORKERS", "1")))
    serve.add_argument("--migrate", action="store_true", help="apply migrations before serving")
    serve.add_argument("--seed-if-empty", action="store_true", help="load seeds/ into an empty database")
    serve.set_defaults(handler=cmd_serve)

    migrate = sub.add_parser("migrate", help="apply all database migrations")
    migrate.set_defaults(handler=cmd_migrate)

    seed = sub.add_parser("seed", help="load the starter data set in seeds/ (idempotent)")
    seed.add_argument(
        "--synthetic",
        type=int,
        metavar="N",
        default=None,
        help="instead, load N synthetic listings (with organizations, initiators, introductions) by COPY",
    )
    seed.add_argument("--random-seed", type=int, default=1, help="makes --synthetic deterministic")
    seed.set_defaults(handler=cmd_seed)

    revision = sub.add_parser("revision", help="autogenerate a migration from model changes")
    revision.add_argument("-m", "--message", required=True)
    revision.set_defaults(handler=cmd_revision)

    import_hsds = sub.add_parser(
        "import-hsds", help="import an HSDS 3.0 export (JSON array or ndjson of services), idempotently"
    )
    import_hsds.add_argument("path")
    import_hsds.set_defaults(handler=cmd_import_hsds)

    outbox = sub.add_parser("outbox", help="list the notifications written (latest first)")
    outbox.add_argument("--status", choices=["queued", "sent", "failed"], default=None)
    outbox.add_argument("--limit", type=int, default=100)
    outbox.add_argument("--bodies", action="store_true", help="print each message's text too")
    outbox.add_argument(
        "--scan", action="store_true", help="first queue the re-verification reminders that are due"
    )
    outbox.set_defaults(handler=cmd_outbox)

    keys = sub.add_parser("keys", help="manage API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create a steward or funder key; prints it last")
    create.add_argument("--role", required=True, choices=[Role.STEWARD.value, Role.FUNDER.value])
    create.add_argument("--label", default=None)
    create.set_defaults(handler=cmd_keys_create)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings.from_env()
    handler: Callable[[argparse.Namespace, Settings], int] = args.handler
    return handler(args, settings)


if __name__ == "__main__":
    sys.exit(main())
