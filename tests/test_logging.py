"""One structured line per request; never bodies, keys or query strings."""

import json
import logging

import pytest

from registry.http.access_log import JsonFormatter
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
