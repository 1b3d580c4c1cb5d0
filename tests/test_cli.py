"""The `registry` command, run as a user would, against the same database as the API."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psutil
import pytest
from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncEngine

from registry.models import ApiKey
from tests.factories import Client, bearer

REGISTRY = [sys.executable, "-m", "registry.cli"]


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*REGISTRY, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(extra)
    return env


async def test_keys_create_prints_a_working_steward_key_last(
    database_url: str, client: Client, engine: AsyncEngine
) -> None:
    result = run_cli("keys", "create", "--role", "steward", env=cli_env(DATABASE_URL=database_url))
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip().splitlines()[-1]
    try:
        assert key.startswith("rk_")
        org = (await client.post("/organizations", json={"name": "CLI", "kinds": ["trainer"]})).json()
        verified = await client.post(
            f"/organizations/{org['organization']['id']}/verify", headers=bearer(key)
        )
        assert verified.status_code == 200
    finally:
        async with engine.begin() as conn:
            await conn.execute(delete(ApiKey).where(ApiKey.prefix == key[:11]))


@pytest.fixture
async def scratch_database_url(engine: AsyncEngine, database_url: str) -> AsyncIterator[str]:
    """A database of its own, so commands that commit (seed) leave the shared one alone."""
    name = f"registry_cli_{uuid.uuid4().hex[:12]}"
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    parts = urlsplit(database_url)
    yield urlunsplit(parts._replace(path=f"/{name}"))
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def test_migrate_and_seed_are_idempotent(scratch_database_url: str) -> None:
    env = cli_env(DATABASE_URL=scratch_database_url)
    outputs = []
    for _ in range(2):
        migrated = await asyncio.to_thread(run_cli, "migrate", env=env)
        assert migrated.returncode == 0, migrated.stderr
        seeded = await asyncio.to_thread(run_cli, "seed", env=env)
        assert seeded.returncode == 0, seeded.stderr
        assert seeded.stdout.startswith("seeded:")
        outputs.append(seeded.stdout)
    assert "0 new listings" in outputs[1]
    assert "0 new listings" not in outputs[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def postgres_processes(pgdata: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(attrs=["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if any(str(pgdata) in part for part in cmdline):
            found.append(proc)
    return found


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "data"
    for proc in postgres_processes(tmp_path / "data" / "postgres"):  # never leave one behind
        proc.kill()


def start_server(data_dir: Path, port: int) -> subprocess.Popen[str]:
    env = cli_env(REGISTRY_DATA_DIR=str(data_dir))
    proc = subprocess.Popen(
        [*REGISTRY, "serve", "--port", str(port), "--migrate", "--seed-if-empty"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise AssertionError("the server did not answer /health within 90 s")


def stop_server(proc: subprocess.Popen[str], sig: signal.Signals) -> str:
    proc.send_signal(sig)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    return output


def test_serve_with_embedded_postgres_keeps_data_and_stops_cleanly(data_dir: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(data_dir, port)
    try:
        assert httpx.get(f"{base}/ready").status_code == 200
        created = httpx.post(f"{base}/organizations", json={"name": "Persisted", "kinds": ["trainer"]})
        assert created.status_code == 201
        org_key = created.json()["api_key"]["key"]
        org_id = created.json()["organization"]["id"]

        # A CLI command shares the running embedded database, and leaving does not stop it.
        cli = run_cli("keys", "create", "--role", "steward", env=cli_env(REGISTRY_DATA_DIR=str(data_dir)))
        assert cli.returncode == 0, cli.stderr
        steward = cli.stdout.strip().splitlines()[-1]
        assert httpx.post(f"{base}/organizations/{org_id}/verify", headers=bearer(steward)).status_code == 200
        assert httpx.get(f"{base}/ready").status_code == 200
    finally:
        output = stop_server(server, signal.SIGINT)
    assert f"API on {base}" in output
    assert postgres_processes(data_dir / "postgres") == []

    server = start_server(data_dir, port)
    try:
        again = httpx.get(f"{base}/organizations/{org_id}", headers=bearer(org_key))
        assert again.status_code == 200 and again.json()["verification_status"] == "verified"
    finally:
        stop_server(server, signal.SIGTERM)
    assert postgres_processes(data_dir / "postgres") == []
