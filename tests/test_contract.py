"""Schemathesis against the running API's own OpenAPI, with a key for each role: no server
errors, no response that breaks the schema, no accepted request that the schema says is invalid."""

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.test_cli import cli_env, free_port, run_cli

CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance,negative_data_rejection"


@pytest.fixture(scope="module")
def contract_database(database_url: str) -> Iterator[str]:
    """A database of its own for a real server that commits; dropped afterwards."""
    from sqlalchemy.ext.asyncio import create_async_engine

    name = f"registry_contract_{uuid.uuid4().hex[:10]}"

    async def sql(statement: str) -> None:
        admin: AsyncEngine = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
        try:
            async with admin.connect() as conn:
                await conn.execute(text(statement))
        finally:
            await admin.dispose()

    asyncio.run(sql(f'CREATE DATABASE "{name}"'))
    yield urlunsplit(urlsplit(database_url)._replace(path=f"/{name}"))
    asyncio.run(sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def server(contract_database: str) -> Iterator[str]:
    env = cli_env(DATABASE_URL=contract_database, REGISTRY_RATE_LIMIT_SCALE="100000")
    assert run_cli("seed", env=env).returncode == 0
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "registry.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    yield base
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)


def role_keys(base: str, contract_database: str) -> dict[str, str | None]:
    env = cli_env(DATABASE_URL=contract_database)
    steward = run_cli("keys", "create", "--role", "steward", env=env).stdout.strip().splitlines()[-1]
    funder = run_cli("keys", "create", "--role", "funder", env=env).stdout.strip().splitlines()[-1]
    org = httpx.post(f"{base}/organizations", json={"name": "Contract org", "kinds": ["trainer"]}).json()
    httpx.post(
        f"{base}/organizations/{org['organization']['id']}/verify",
        headers={"Authorization": f"Bearer {steward}"},
    )
    initiator = httpx.post(
        f"{base}/initiators", json={"display_name": "Contract", "email": "contract@example.org"}
    ).json()
    return {
        "steward": steward,
        "anonymous": None,
        "organization": org["api_key"]["key"],
        "funder": funder,
        "initiator": initiator["key"],
    }


def schemathesis(base: str, key: str | None, examples: int, report: Path) -> dict[str, object]:
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        f"{base}/schema/openapi.json",
        "--checks",
        CHECKS,
        "--max-examples",
        str(examples),
        "--phases",
        "coverage,fuzzing",
        "--seed",
        "7",
        "--request-timeout",
        "20",
        "--suppress-health-check",
        "all",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(report),
        "--no-color",
    ]
    if key:
        command += ["--header", f"Authorization: Bearer {key}"]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=600, check=False, env=os.environ.copy()
    )
    summary = result.stdout[-4000:]
    generated = re.search(r"(\d+) generated", summary)
    return {
        "exit": result.returncode,
        "output": summary,
        "generated": int(generated.group(1)) if generated else 0,
    }


def test_schemathesis_finds_nothing_for_any_role(server: str, contract_database: str, tmp_path: Path) -> None:
    keys = role_keys(server, contract_database)
    total = 0
    failures = {}
    for role, key in keys.items():
        outcome = schemathesis(server, key, 3 if role == "steward" else 1, tmp_path / f"{role}.ndjson")
        total += int(str(outcome["generated"]))
        if outcome["exit"] != 0:
            failures[role] = outcome["output"]
    (Path(os.environ.get("CONTRACT_REPORT", tmp_path / "contract.json"))).write_text(
        json.dumps({"generated": total})
    )
    print(f"schemathesis: {total} requests generated across {len(keys)} roles")
    assert not failures, "\n\n".join(f"--- {role}\n{out}" for role, out in failures.items())
    assert total > 1000
