"""The dashboard: access, the cookie session, and charts rendered in a real headless Chromium."""

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth.principal import Role
from registry.reports.perturbation import MAX_PERTURBATION
from tests.factories import Client, bearer, register_org, role_key
from tests.reports.world import build


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    if os.environ.get("CI"):
        pytest.fail("Chromium is required in CI (.ci/run installs Debian's chromium package)")
    pytest.skip("no Chromium on this machine: install Debian's `chromium` package to run the dashboard test")


def render_dom(html: str, tmp_path: Path) -> str:
    page = tmp_path / "dashboard.html"
    page.write_text(html, encoding="utf-8")
    result = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def bars(dom: str, chart_id: str) -> dict[str, int]:
    svg = re.search(rf'<svg id="{chart_id}".*?</svg>', dom, re.S)
    assert svg is not None, f"{chart_id} did not render"
    return {
        label: int(value)
        for label, value in re.findall(
            r'<rect class="bar" data-label="([^"]+)" data-value="(\d+)"', svg.group(0)
        )
    }


def suppressed(dom: str, chart_id: str) -> set[str]:
    svg = re.search(rf'<svg id="{chart_id}".*?</svg>', dom, re.S)
    assert svg is not None
    return set(re.findall(r'data-label="([^"]+)" data-suppressed="true"', svg.group(0)))


async def test_dashboard_needs_a_funder_or_steward(client: Client, db: AsyncSession) -> None:
    anonymous = await client.get("/reports/dashboard")
    assert anonymous.status_code == 401
    assert "<form" in anonymous.text
    _, org_key = await register_org(client)
    assert (await client.get("/reports/dashboard", headers=bearer(org_key))).status_code == 403


async def test_key_is_traded_for_a_session_cookie(client: Client, db: AsyncSession) -> None:
    funder = await role_key(db, Role.FUNDER)
    bad = await client.post("/reports/dashboard/session", data={"key": "rk_" + "x" * 40})
    assert bad.status_code == 401
    opened = await client.post("/reports/dashboard/session", data={"key": funder})
    assert opened.status_code == 303
    cookie = opened.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower()
    page = await client.get("/reports/dashboard", cookies={"registry_dashboard": funder})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    # The cookie works for the dashboard only, not as a general credential.
    assert (await client.get("/reports/evidence", cookies={"registry_dashboard": funder})).status_code == 401


async def test_charts_render_the_report_numbers_in_chromium(
    client: Client, db: AsyncSession, tmp_path: Path
) -> None:
    await build(db)
    funder = await role_key(db, Role.FUNDER)
    page = await client.get("/reports/dashboard", headers=bearer(funder))
    assert page.status_code == 200
    assert not re.search(r"""(?:src|href)=["']https?://""", page.text)  # no external assets
    dom = render_dom(page.text, tmp_path)

    evidence: dict[str, Any] = (await client.get("/reports/evidence", headers=bearer(funder))).json()
    stages = next(t for t in evidence["tables"] if t["name"] == "programs_per_stage")
    expected_pipeline = {
        r["key"]["evaluation_stage"]: r["values"]["programs"]["value"] for r in stages["rows"]
    }
    assert bars(dom, "chart-pipeline") == expected_pipeline

    programs = bars(dom, "chart-programs")
    assert programs["twelve_step / people_who_use_violence"] == 2
    assert programs["peer_led_support_group / survivors"] == 3

    funnel = bars(dom, "chart-funnel")
    assert abs(funnel["accepted"] - 40) <= MAX_PERTURBATION  # a count of people: perturbed
    partnerships = (await client.get("/reports/partnerships", headers=bearer(funder))).json()
    totals = next(r for r in partnerships["tables"][0]["rows"] if r["key"]["partner_kind"] == "__total__")
    for status, cell in totals["values"].items():
        if cell["suppressed"]:
            assert status in suppressed(dom, "chart-funnel")
        elif cell["value"]:
            assert funnel[status] == cell["value"]
    assert 'id="coverage-gaps"' in dom
    assert "KE" in dom
