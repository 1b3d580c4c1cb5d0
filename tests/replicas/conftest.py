"""The `replica` fixture: one streaming replica of the tests' embedded primary for the session."""

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.replicas.harness import Replica, primary_address, start_replica


@pytest.fixture(scope="session")
def replica(request: pytest.FixtureRequest) -> Iterator[Replica]:
    """A hot standby of the primary behind `database_url`, streaming from it.

    Tests may stop, pause or restart it but must leave it running and replaying."""
    if os.environ.get("TEST_DATABASE_URL"):
        # Checked before asking for `database_url`, which would wipe that server's schema first.
        pytest.skip("TEST_DATABASE_URL names an external server; a replica of it is not the suite's to make")
    database_url: str = request.getfixturevalue("database_url")
    try:
        socket_dir, port, database = primary_address(database_url)
    except ValueError as error:
        pytest.skip(f"the test database is not the embedded cluster: {error}")
    with tempfile.TemporaryDirectory(prefix="registry-replica-") as workdir:
        replica = start_replica(socket_dir, Path(workdir), database=database, primary_port=port)
        try:
            yield replica
        finally:
            replica.close()
