"""One structured line per request; never bodies, keys or query strings."""

import json
import logging
import time
from pathlib import Path

import pytest

from registry.http.access_log import BufferedStderr, JsonFormatter
from tests.factories import Client, bearer, register_org


async def test_request_lines_have_template_and_no_secrets(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="registry.access")
    org, key = await register_org(client, name="Marker Org Zebra", description="secret-body-text")
    await client.get(f"/organizations/{org['id']}", params={"near": "52.0907,5.1214"}, headers=bearer(key))
    await client.get("/definitely/not/here")

    lines = [JsonFormatter().format(r) for r in caplog.records if r.name == "registry.access"]
    parsed = [json.loads(line) for line in lines]
    assert [p["path"] for p in parsed] == [
        "/organizations",
        "/organizations/{organization_id}",
        "<unmatched>",
    ]
    assert [p["status"] for p in parsed] == [201, 200, 404]
    assert all({"method", "path", "status", "duration_ms"} <= set(p) for p in parsed)
    # Everything the service logged (the test's own HTTP client logs URLs; it is not the service).
    service_records = [r for r in caplog.records if r.name.startswith("registry")]
    everything = "\n".join(JsonFormatter().format(r) for r in service_records)
    for secret in (key, "secret-body-text", "Marker Org Zebra", "52.0907", org["id"]):
        assert secret not in everything


def test_a_buffered_line_is_written_out_even_when_no_other_line_follows(tmp_path: Path) -> None:
    # A process that logs one line and then nothing (a worker saying it is warm, then idle) still
    # writes it out within a few FLUSH_SECONDS: it waited in the buffer for the next line before.
    written = tmp_path / "stderr"
    with written.open("w", buffering=1 << 16) as stream:
        handler = BufferedStderr(stream)
        handler.setFormatter(JsonFormatter())
        handler.emit(logging.makeLogRecord({"msg": "first", "levelno": logging.INFO}))
        handler.flush()
        handler.emit(logging.makeLogRecord({"msg": "warm", "levelno": logging.INFO}))
        assert "warm" not in written.read_text()  # buffered: lines go out together
        deadline = time.monotonic() + 10 * BufferedStderr.FLUSH_SECONDS
        while "warm" not in written.read_text():
            assert time.monotonic() < deadline, "the line stayed in the buffer"
            time.sleep(0.02)
        handler.close()
