"""A change is in force once its write is answered: with two server processes (`registry serve
--workers 2`) and keep-alive clients repeating cached searches and matches, no request that starts
after a privacy-narrowing write's response shows the old state, on either process."""

import asyncio
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from registry.caching import version
from tests.factories import Client
from tests.tcp_proxy import upstream_of
from tests.test_cli import cli_env, free_port, run_cli
from tests.test_contract import contract_database  # noqa: F401 (a scratch database of its own)

UTRECHT = {"latitude": 52.0907, "longitude": 5.1214}
SEARCH = "/programs?near=Utrecht,%20NL&radius_km=25&per_page=50"
CLIENTS = 12  # keep-alive clients repeating the cached requests
MATCH = {"location": {"place": "Utrecht, NL"}, "needs": ["peer_program"], "side": "people_who_use_violence"}


def serve(env: dict[str, str], workers: int = 1) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "registry.cli", "serve", "--port", str(port), "--workers", str(workers)],
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
    return proc, base


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def two_workers(contract_database: str) -> Iterator[tuple[str, str]]:  # noqa: F811
    env = cli_env(DATABASE_URL=contract_database, REGISTRY_RATE_LIMIT_SCALE="100000")
    assert run_cli("migrate", env=env).returncode == 0
    steward = run_cli("keys", "create", "--role", "steward", env=env).stdout.strip().splitlines()[-1]
    proc, base = serve(env, workers=2)
    yield base, steward
    stop(proc)


class SlowLink:
    """A TCP proxy to PostgreSQL that delivers what the server sends `delay` seconds late: a
    network on which change notifications (or anything else) arrive late."""

    def __init__(self, upstream_url: str, delay: float) -> None:
        self.socket, self.host, self.upstream_port = upstream_of(upstream_url)
        self.delay = delay
        self.port = 0
        self.tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.socket is not None:
            up_reader, up_writer = await asyncio.open_unix_connection(self.socket)
        else:
            assert self.host is not None
            up_reader, up_writer = await asyncio.open_connection(self.host, self.upstream_port)
        for task in (self.pipe(reader, up_writer, 0.0), self.pipe(up_reader, writer, self.delay)):
            running = asyncio.create_task(task)
            self.tasks.add(running)
            running.add_done_callback(self.tasks.discard)

    @staticmethod
    async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, delay: float) -> None:
        loop = asyncio.get_running_loop()
        try:
            while data := await src.read(65536):
                if delay:
                    loop.call_later(delay, dst.write, data)
                else:
                    dst.write(data)
        except (ConnectionError, asyncio.CancelledError):
            pass

    async def close(self) -> None:
        self.server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


@dataclass
class Traffic:
    """Requests repeated by keep-alive clients: (started, finished, what the answer showed)."""

    seen: list[tuple[float, float, bool]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def drive(base: str, shows: Any, traffic: Traffic, stop: asyncio.Event, clients: int = CLIENTS) -> None:
    async def loop(n: int) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            while not stop.is_set():
                started = time.monotonic()
                if n % 2:
                    response = await client.get(SEARCH)
                else:
                    response = await client.post("/matches", json=MATCH)
                if response.status_code != 200:
                    traffic.errors.append(f"{response.status_code} {response.text[:200]}")
                    continue
                traffic.seen.append((started, time.monotonic(), shows(response.text)))

    await asyncio.gather(*(loop(n) for n in range(clients)))


@pytest.fixture
async def world(two_workers: tuple[str, str]) -> AsyncIterator[tuple[str, str, dict[str, Any]]]:
    base, steward = two_workers
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        registered = (
            await client.post(
                "/organizations", json={"name": f"Fresh {uuid.uuid4()}", "kinds": ["peer_program"]}
            )
        ).json()
        org, key = registered["organization"], registered["api_key"]["key"]
        verified = await client.post(
            f"/organizations/{org['id']}/verify", headers={"Authorization": f"Bearer {steward}"}
        )
        assert verified.status_code == 200
        yield base, key, org


def bearer(key: str, etag: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **({"If-Match": etag} if etag else {})}


async def narrowing(
    base: str,
    shows: Any,
    write: Any,
    undo: Any,
    *,
    trials: int,
) -> list[str]:
    """Run cached traffic; each trial waits until the old state is being served, makes the write
    and records when its answer came; then undoes it. Answers: every stale answer found."""
    traffic = Traffic()
    stop = asyncio.Event()
    driver = asyncio.create_task(drive(base, shows, traffic, stop))
    stale: list[str] = []
    try:
        for trial in range(trials):
            await undo()
            deadline = time.monotonic() + 10
            while not any(s and start > time.monotonic() - 0.3 for start, _, s in traffic.seen[-50:]):
                assert time.monotonic() < deadline, "the old state never showed"
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.1)  # every worker's caches hold the old state
            await write()
            answered = time.monotonic()
            await asyncio.sleep(0.3)
            # And enough answers to requests started after the write's answer, as many as there are
            # clients, however long a busy process takes to give them (0.3 s alone saw 7 when a
            # process stalled for 0.75 s).
            deadline = answered + 10
            while len(after := [s for s in traffic.seen if s[0] > answered]) < CLIENTS:
                assert time.monotonic() < deadline, "too little traffic to tell"
                await asyncio.sleep(0.02)
            stale += [f"trial {trial}: {end - answered:.3f} s after" for start, end, s in after if s]
    finally:
        stop.set()
        await driver
    assert not traffic.errors, traffic.errors[:3]
    return stale


async def test_a_contact_made_less_visible_is_hidden_at_once_on_every_process(
    world: tuple[str, str, dict[str, Any]],
) -> None:
    base, key, _ = world
    email = f"fresh-{uuid.uuid4().hex[:8]}@example.org"
    contact = {"name": "Intake", "email": email}
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        created = await client.post(
            "/programs",
            json={
                "name": "Fresh answers group",
                "side": "people_who_use_violence",
                "location": UTRECHT,
                "contacts": [{**contact, "visibility": "public"}],
            },
            headers=bearer(key),
        )
        assert created.status_code == 201, created.text
        path = f"/programs/{created.json()['id']}"

        async def set_visibility(visibility: str) -> None:
            etag = (await client.get(path, headers=bearer(key))).headers["etag"]
            response = await client.patch(
                path,
                json={"contacts": [{**contact, "visibility": visibility}]},
                headers=bearer(key, etag),
            )
            assert response.status_code == 200, response.text

        async def hide() -> None:
            await set_visibility("on_introduction")

        async def show() -> None:
            await set_visibility("public")

        stale = await narrowing(base, lambda text: email in text, hide, show, trials=20)
    assert stale == []


async def test_a_paused_listing_leaves_every_answer_at_once(world: tuple[str, str, dict[str, Any]]) -> None:
    base, key, _ = world
    name = f"Pausing group {uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        created = await client.post(
            "/programs",
            json={"name": name, "side": "people_who_use_violence", "location": UTRECHT},
            headers=bearer(key),
        )
        assert created.status_code == 201, created.text
        path = f"/programs/{created.json()['id']}"

        async def set_status(status: str) -> None:
            etag = (await client.get(path, headers=bearer(key))).headers["etag"]
            response = await client.patch(path, json={"status": status}, headers=bearer(key, etag))
            assert response.status_code == 200, response.text

        async def pause() -> None:
            await set_status("paused")

        async def resume() -> None:
            await set_status("active")

        # Paused groups stay listed in searches (with their status) but leave matches; the
        # search's copy must say paused at once.
        def shows(text: str) -> bool:
            return name in text and '"status":"paused"' not in text.split(name, 1)[1][:2000]

        stale = await narrowing(base, shows, pause, resume, trials=10)
    assert stale == []


async def test_an_answer_never_waits_for_news_of_a_change(
    two_workers: tuple[str, str],
    contract_database: str,  # noqa: F811
) -> None:
    """Another process whose news of changes comes late (a slow link to PostgreSQL for whatever
    tells it of changes) still answers the state that the write's answer confirmed."""
    base, steward = two_workers
    link = SlowLink(contract_database, delay=0.5)
    await link.start()
    user = contract_database.split("//", 1)[1].split("@", 1)[0].split(":", 1)[0] or "postgres"
    database = contract_database.rsplit("/", 1)[1].split("?", 1)[0]
    env = cli_env(
        DATABASE_URL=contract_database,
        REGISTRY_RATE_LIMIT_SCALE="100000",
        REGISTRY_NOTIFY_URL=f"postgresql://{user}@127.0.0.1:{link.port}/{database}",
    )
    proc, other = await asyncio.to_thread(serve, env)
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            registered = (
                await client.post(
                    f"{base}/organizations", json={"name": "Late news", "kinds": ["peer_program"]}
                )
            ).json()
            key = registered["api_key"]["key"]
            await client.post(
                f"{base}/organizations/{registered['organization']['id']}/verify",
                headers={"Authorization": f"Bearer {steward}"},
            )
            email = f"late-{uuid.uuid4().hex[:8]}@example.org"
            contact = {"name": "Intake", "email": email, "visibility": "public"}
            created = await client.post(
                f"{base}/programs",
                json={
                    "name": "Late news group",
                    "side": "people_who_use_violence",
                    "location": UTRECHT,
                    "contacts": [contact],
                },
                headers=bearer(key),
            )
            path = f"/programs/{created.json()['id']}"
            stale = 0
            for _ in range(5):
                await asyncio.sleep(1.0)  # the other process has heard of everything so far
                for _ in range(2):  # cached there now
                    assert email in (await client.get(f"{other}{SEARCH}")).text
                etag = (await client.get(f"{base}{path}", headers=bearer(key))).headers["etag"]
                hidden = await client.patch(
                    f"{base}{path}",
                    json={"contacts": [{**contact, "visibility": "on_introduction"}]},
                    headers=bearer(key, etag),
                )
                assert hidden.status_code == 200
                stale += email in (await client.get(f"{other}{SEARCH}")).text
                etag = hidden.headers["etag"]
                shown = await client.patch(
                    f"{base}{path}", json={"contacts": [contact]}, headers=bearer(key, etag)
                )
                assert shown.status_code == 200
            assert stale == 0
    finally:
        await asyncio.to_thread(stop, proc)
        await link.close()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/matches", {"location": {"latitude": 52.09, "longitude": 5.12}, "languages": ["nl"]}),
        ("GET", "/programs?near=Utrecht%2C%20NL&format=peer_led_support_group", None),
        ("GET", "/partners?near=Utrecht%2C%20NL&language=nl", None),
    ],
)
async def test_a_cached_read_reads_the_datas_version_once(
    client: Client, monkeypatch: pytest.MonkeyPatch, method: str, path: str, body: Any
) -> None:
    """Checking the request's codes and finding its answer ask for the same version: one read."""
    reads: list[int] = []
    stored = version.stored_version

    async def counted(*args: Any) -> int:
        reads.append(1)
        return await stored(*args)

    monkeypatch.setattr(version, "stored_version", counted)
    for _ in range(2):  # built, then kept
        reads.clear()
        response = await client.request(method, path, json=body)
        assert response.status_code == 200, response.text
        assert len(reads) == 1
