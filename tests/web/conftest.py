"""A real server for the browser: `registry serve` (granian) on a free port, against a scratch
database of its own (migrated and seeded), as the contract and fresh-answer tests run one; its
output goes to a file the tests read for anything that must never be logged."""

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.reports.test_dashboard import chromium
from tests.test_cli import cli_env, free_port, run_cli
from tests.test_contract import contract_database  # noqa: F401 (a scratch database of its own)
from tests.web.browser import Browser, chromedriver


@dataclass(frozen=True)
class Site:
    base: str
    database_url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="module")
def site(contract_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:  # noqa: F811
    chromium(), chromedriver()  # skip (or fail in CI) before starting anything without them
    env = cli_env(DATABASE_URL=contract_database, REGISTRY_RATE_LIMIT_SCALE="100")
    seeded = run_cli("seed", env=env)
    assert seeded.returncode == 0, seeded.stderr
    log = tmp_path_factory.mktemp("web-server") / "server.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with log.open("w") as output:
        proc = subprocess.Popen(
            [sys.executable, "-m", "registry.cli", "serve", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not answer /ready within 60 s"
            time.sleep(0.3)
        yield Site(base, contract_database, log)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def browser(site: Site, tmp_path: Path) -> Iterator[Browser]:
    opened = Browser(site.base, tmp_path / "profile")
    try:
        yield opened
    finally:
        opened.close()
