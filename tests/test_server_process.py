"""What a server process (`registry serve`) does to itself at start-up, beyond serving the app."""

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

from registry.app import YOUNG_COLLECTION_THRESHOLD

# Runs in a process of its own: freezing and retuning the collector would outlast the test here.
START_UP = textwrap.dedent(
    """
    import asyncio, gc, json
    from litestar.testing import AsyncTestClient
    from registry.app import create_app, create_server_app
    from registry.locations import geo

    async def main(factory):
        before = (gc.get_threshold(), gc.get_freeze_count())
        async with AsyncTestClient(factory()) as client:
            status = (await client.get("/health")).status_code
            # The city index, built by start-up: frozen objects are in no generation.
            index = geo._city_index()
            index_frozen = not any(o is index for o in gc.get_objects())
            after = (gc.get_threshold(), gc.get_freeze_count())
            return {"before": before, "after": after, "status": status, "index_frozen": index_frozen}

    print(json.dumps({"server": asyncio.run(main(create_server_app))}))
    """
)
PLAIN = START_UP.replace("create_server_app))}", "create_app))}").replace('"server"', '"plain"')


def _start(script: str, database_url: str) -> Any:
    env = {**os.environ, "DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_server_process_settles_its_garbage_collector_once_started(database_url: str) -> None:
    found = _start(START_UP, database_url)["server"]
    assert found["status"] == 200
    (young, middle, old), frozen_before = found["before"]
    (young_after, middle_after, old_after), frozen_after = found["after"]
    # Start-up's objects moved out of the collector's way; young collections made rarer; the
    # older generations' ratios kept.
    assert frozen_before == 0 and frozen_after > 10_000
    assert found["index_frozen"]  # frozen after start-up built it, not before
    assert young < YOUNG_COLLECTION_THRESHOLD == young_after
    assert (middle_after, old_after) == (middle, old)


def test_the_app_alone_leaves_the_collector_to_its_host(database_url: str) -> None:
    # Tests and tools that build the app keep their own process's collector as it was.
    found = _start(PLAIN, database_url)["plain"]
    assert found["status"] == 200
    assert found["before"] == found["after"]
    assert not found["index_frozen"]
