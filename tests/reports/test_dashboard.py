"""The dashboard: access, the cookie session, its headers, and the page as a real headless Chromium
renders it: labels and place names instead of codes, the coverage map with its gap places, the
trends per quarter, and every hidden count still hidden in the picture. The Chromium test also
writes docs/screenshots/dashboard.png."""

import base64
import hashlib
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth.principal import Role
from registry.models import EvaluationRecord, Initiator, Introduction, Listing
from registry.reports import dashboard
from registry.reports.dashboard_map import clip, outlines
from registry.reports.dashboard_names import PATHWAY_STEPS, STATUS_LABELS, Names, default_labels
from registry.reports.perturbation import MAX_PERTURBATION
from registry.reports.schemas import CellRead, ReportRead, RowRead, SuppressionRead, TableRead
from tests.factories import Client, bearer, register_org, role_key
from tests.reports.world import NOW, build

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "dashboard.png"
LABELS = default_labels()
# Codes whose vocabulary label differs from them: none of these may be what a reader sees.
CODES = {
    code
    for taxonomy in ("side", "format", "delivery", "population", "partner_kind", "evaluation_stage")
    for code, label in LABELS[taxonomy].items()
    if label != code
} | {code for code, label in STATUS_LABELS.items() if label != code}


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    if os.environ.get("CI"):
        pytest.fail("Chromium is required in CI (.ci/run installs Debian's chromium package)")
    pytest.skip("no Chromium on this machine: install Debian's `chromium` package to run the dashboard test")


def run_chromium(page: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
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
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            *args,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def render_dom(html: str, tmp_path: Path) -> tuple[str, str]:
    """The DOM Chromium builds from the page, and what the page wrote to its console."""
    page = tmp_path / "dashboard.html"
    page.write_text(html, encoding="utf-8")
    result = run_chromium(page, tmp_path, "--enable-logging=stderr", "--v=0", "--dump-dom")
    console = "\n".join(line for line in result.stderr.splitlines() if ":CONSOLE" in line)
    return result.stdout, console


def screenshot(tmp_path: Path) -> None:
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    run_chromium(
        tmp_path / "dashboard.html", tmp_path, f"--screenshot={SCREENSHOT}", "--window-size=1280,2000"
    )


# --- reading the DOM ---------------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str], parent: "Node | None") -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node | str] = []

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def own_text(self) -> str:
        """Text without that of <title> children (tooltips)."""
        return "".join(
            c if isinstance(c, str) else c.own_text()
            for c in self.children
            if isinstance(c, str) or c.tag != "title"
        )

    def walk(self) -> Iterator["Node"]:
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.walk()

    def find(self, tag: str | None = None, **attrs: str) -> list["Node"]:
        """Descendants by tag and attributes (data_label= for data-label; class_= matches a class)."""
        wanted = {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}

        def matches(node: Node) -> bool:
            for key, value in wanted.items():
                if key == "class":
                    if value not in node.attrs.get("class", "").split():
                        return False
                elif node.attrs.get(key) != value:
                    return False
            return tag is None or node.tag == tag

        return [node for node in self.walk() if matches(node)]

    def one(self, tag: str | None = None, **attrs: str) -> "Node":
        found = self.find(tag, **attrs)
        assert len(found) == 1, f"{len(found)} of {tag} {attrs}"
        return found[0]


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.current.children.append(Node(tag, {k: v or "" for k, v in attrs}, self.current))

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse(html: str) -> Node:
    tree = _Tree()
    tree.feed(html)
    return tree.root


def bars(root: Node, chart_id: str) -> dict[str, float]:
    chart = root.one("svg", id=chart_id)
    return {n.attrs["data-label"]: float(n.attrs["data-value"]) for n in chart.find(class_="bar")}


def hidden(root: Node, chart_id: str) -> set[str]:
    chart = root.one("svg", id=chart_id)
    return {n.attrs["data-label"] for n in chart.find(data_suppressed="true")}


def assert_hidden(root: Node, chart_id: str, label: str) -> None:
    """A hidden cell is a mark saying so, and nothing with its label has a value or a size."""
    chart = root.one("svg", id=chart_id)
    marks = chart.find(data_label=label, data_suppressed="true")
    assert len(marks) == 1, f"{label} is not marked suppressed in {chart_id}"
    assert not re.search(r"\d", marks[0].own_text()), marks[0].own_text()
    assert not [n for n in chart.find(data_label=label) if "data-value" in n.attrs or n.tag == "rect"]


def table(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in report["tables"] if t["name"] == name)


def quarter_label(key: str) -> str:
    year, quarter = key.split("-")
    return f"{quarter} {year}"


# --- the world the Chromium test draws -------------------------------------------------------


async def more_of_the_world(db: AsyncSession, world: dict[str, Any]) -> None:
    """On top of tests.reports.world: initiators in three Kenyan regions with no partner near
    (16 in Nairobi Area, 13 in Kisumu, 4 in Mombasa: hidden), introductions in a second quarter
    (30 accepted, 15 withdrawn, 3 declined: hidden, and so one more of that quarter), and
    evaluation records in two quarters."""

    def initiator(latitude: float, longitude: float, region: str, step: int) -> Initiator:
        return Initiator(
            id=uuid.uuid4(),
            display_name="I",
            email="i@example.org",
            pathway_step=step,
            latitude=latitude,
            longitude=longitude,
            country="KE",
            region=region,
        )

    nairobi = [initiator(-1.29, 36.82, "05", 1) for _ in range(16)]
    kisumu = [initiator(-0.10, 34.76, "26", 3) for _ in range(13)]
    mombasa = [initiator(-4.05, 39.66, "37", 1) for _ in range(4)]
    db.add_all([*nairobi, *kisumu, *mombasa])
    await db.flush()

    def intro(target: Listing, status: str, i: int) -> Introduction:
        return Introduction(
            initiator_id=nairobi[i % len(nairobi)].id,
            listing_id=target.id,
            organization_id=target.organization_id,
            message="m",
            status=status,
            initiator_name="I",
            created_at=datetime(2026, 5, 10, tzinfo=UTC),
            expires_at=NOW + timedelta(days=10),
        )

    db.add_all(
        [intro(world["evaluator"], "accepted", i) for i in range(30)]
        + [intro(world["evaluator"], "withdrawn", i) for i in range(15)]
        + [intro(world["clinician"], "declined", i) for i in range(3)]
    )

    def record(program: Listing, when: datetime, stage: str) -> EvaluationRecord:
        return EvaluationRecord(
            id=uuid.uuid4(), listing_id=program.id, stage=stage, previous_stage="none", recorded_at=when
        )

    first, second, third = world["programs"][:3]
    q1, q3 = datetime(2026, 2, 10, tzinfo=UTC), datetime(2026, 8, 1, tzinfo=UTC)
    db.add_all(
        [
            record(first, q1, "pilot_planned"),
            record(first, q3, "pilot_running"),
            record(second, q3, "pilot_running"),
            record(third, q3, "pilot_planned"),
        ]
    )
    await db.commit()


# --- tests --------------------------------------------------------------------------------


def policy_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


async def test_dashboard_needs_a_funder_or_steward(client: Client, db: AsyncSession) -> None:
    anonymous = await client.get("/reports/dashboard")
    assert anonymous.status_code == 401
    assert "<form" in anonymous.text
    # The sign-in page's one script and one style run by their hashes; nothing else may.
    policy = anonymous.headers["content-security-policy"]
    script = re.search(r"<script>(.*?)</script>", anonymous.text, re.S)
    style = re.search(r"<style>(.*?)</style>", anonymous.text, re.S)
    assert script is not None and style is not None
    assert f"script-src {policy_hash(script.group(1))}" in policy
    assert f"style-src {policy_hash(style.group(1))}" in policy
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
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


async def test_the_page_runs_nothing_and_loads_nothing(client: Client, db: AsyncSession) -> None:
    await build(db)
    page = await client.get("/reports/dashboard", headers=bearer(await role_key(db, Role.FUNDER)))
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    style = re.search(r"<style>(.*?)</style>", page.text, re.S)
    assert style is not None
    assert policy.startswith("default-src 'none'; ")
    assert f"style-src {policy_hash(style.group(1))}" in policy
    assert "script-src" not in policy and "unsafe" not in policy and "frame-ancestors 'none'" in policy
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert "<script" not in page.text
    assert not re.search(r"""(?:src|href)=["']""", page.text)  # no asset, local or not
    assert not re.search(r"\sstyle=", page.text)  # style attributes would need 'unsafe-inline'
    assert "@import" not in page.text and "url(" not in page.text


async def test_charts_render_labelled_mapped_and_suppressed_in_chromium(
    client: Client, db: AsyncSession, tmp_path: Path
) -> None:
    world = await build(db)
    await more_of_the_world(db, world)
    funder = await role_key(db, Role.FUNDER)
    page = await client.get("/reports/dashboard", headers=bearer(funder))
    assert page.status_code == 200
    assert not re.search(r"""(?:src|href)=["']https?://""", page.text)  # no external assets
    dom, console = render_dom(page.text, tmp_path)
    assert console == "", console  # nothing refused by the page's policy, no error
    screenshot(tmp_path)
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    root = parse(dom)

    async def report(name: str, **params: Any) -> dict[str, Any]:
        response = await client.get(f"/reports/{name}", params=params, headers=bearer(funder))
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        return body

    programs = await report("programs", group_by=["format", "side"])
    evidence = await report("evidence")
    partnerships = await report("partnerships")
    coverage = await report("coverage")

    # Labels, not codes: every bar is named with the vocabularies' labels.
    expected_programs = {
        f"{LABELS['format'][r['key']['format']]} · {LABELS['side'][r['key']['side']]}": r["values"][
            "programs"
        ]["value"]
        for r in table(programs, "programs")["rows"]
        if r["key"]["format"] != "__total__"
    }
    assert bars(root, "chart-programs") == expected_programs
    assert expected_programs["Peer-led support group · Survivors"] == 3
    assert expected_programs["12-step · People who use violence"] == 2
    stages = table(evidence, "programs_per_stage")["rows"]
    assert bars(root, "chart-pipeline") == {
        LABELS["evaluation_stage"][r["key"]["evaluation_stage"]]: r["values"]["programs"]["value"]
        for r in stages
    }
    seen = [n.own_text().strip() for svg in root.find("svg") for n in svg.find("text")]
    seen += [n.own_text().strip() for n in root.find("td") + root.find("th") + root.find("li")]
    assert not CODES & set(seen), CODES & set(seen)
    for chart in ("chart-programs", "chart-pipeline", "chart-funnel", "chart-pathway"):
        for label in set(bars(root, chart)) | hidden(root, chart):
            assert not set(re.split(r" · ", label)) & CODES, label
    assert "3. Review existing formats" in set(bars(root, "chart-pathway")) | hidden(root, "chart-pathway")

    # Places by name: regions and countries, in the map and in the table.
    gaps = root.one("table", id="coverage-gaps")
    names = {(tr.find("th")[0].text(), tr.find("td")[0].text()) for tr in gaps.find("tr", data_country="KE")}
    assert ("Nairobi Area", "Kenya") in names and ("Mombasa", "Kenya") in names
    codes = {"05", "26", "30", "37", "09", "KE", "NL"}
    assert not codes & ({th.text() for th in gaps.find("th")} | {td.text() for td in gaps.find("td")})

    # The map: the countries in the data drawn and marked, every place where the reports put it.
    atlas = root.one("svg", id="coverage-map")
    assert {p.attrs["data-country"] for p in atlas.find("path", class_="in-data")} == {"KE", "NL"}
    assert len(atlas.find("path", class_="country")) > 10  # their neighbours too, for context
    places = {(g.attrs["data-country"], g.attrs["data-region"]): g for g in atlas.find("g", class_="place")}
    assert places[("NL", "09")].attrs["data-state"] == "covered"
    assert places[("NL", "09")].attrs["data-place"] == "Utrecht, The Netherlands"
    for row in table(coverage, "coverage_gaps")["rows"]:
        key = (row["key"]["country"], row["key"]["region"])
        initiators = row["values"]["initiators"]
        demand = initiators["suppressed"] or initiators["value"] > 0
        place = places[key]
        assert place.attrs["data-state"] == ("demand" if demand else "gap"), key
        if demand:  # stands out: a red "!" marker and its name in bold beside it, not colour alone
            assert place.one("circle").attrs["fill"] == "#c53030"
            name = place.one("text", class_="place-name")
            assert name.own_text() == f"! {place.attrs['data-place']}"
            assert name.attrs["font-weight"] == "bold"
            assert place.attrs["data-place"] in atlas.one("desc").text()
        row_text = gaps.one("tr", data_country=key[0], data_region=key[1]).text()
        if initiators["suppressed"]:
            assert "initiators: suppressed" in place.one("title").text()
            assert "suppressed" in row_text
        else:
            assert f"initiators: {initiators['value']}" in place.one("title").text()
    assert places[("KE", "05")].attrs["data-state"] == "demand"
    assert places[("KE", "05")].attrs["data-place"] == "Nairobi Area, Kenya"
    assert places[("KE", "30")].attrs["data-state"] == "gap"  # a program, nobody waiting
    assert places[("KE", "37")].attrs["data-state"] == "demand"  # a hidden count: waiting, size unsaid
    legend = root.one("ul", class_="map-legend").text()
    assert (
        "Initiators waiting" in legend and "a clinician, evaluator or trainer missing within 50 km" in legend
    )

    # Trends per quarter: every quarter from the first to the last, each cell as the report has it.
    trend = table(partnerships, "introductions_by_quarter")
    rows = {r["key"]["quarter"]: r for r in trend["rows"] if r["key"]["quarter"] != "__total__"}
    columns = root.one("svg", id="chart-introductions-trend").find("g", class_="column")
    assert [c.attrs["data-quarter"] for c in columns] == ["2026-Q2", "2026-Q3"] == sorted(rows)
    drawn = bars(root, "chart-introductions-trend")
    suppressed_cells = 0
    for quarter, row in rows.items():
        for status, cell in row["values"].items():
            label = f"{quarter_label(quarter)} · {STATUS_LABELS[status]}"
            if cell["suppressed"]:
                assert_hidden(root, "chart-introductions-trend", label)
                suppressed_cells += 1
            elif status == "requested":
                total = root.one("svg", id="chart-introductions-trend").one(data_label=label)
                assert float(total.attrs["data-value"]) == cell["value"]
            elif cell["value"]:
                assert drawn[label] == cell["value"]
            else:
                assert label not in drawn
    assert suppressed_cells, "the fixture hides a count in the trend (3 declined in Q2 2026)"
    assert drawn, "and shows others"
    transitions = table(evidence, "stage_transitions")["rows"]
    columns = root.one("svg", id="chart-evaluation-trend").find("g", class_="column")
    assert [c.attrs["data-quarter"] for c in columns] == ["2026-Q1", "2026-Q2", "2026-Q3"]
    expected_records = {}
    for r in transitions:
        stage = LABELS["evaluation_stage"][r["key"]["evaluation_stage"]]
        expected_records[f"{quarter_label(r['key']['quarter'])} · {stage}"] = r["values"]["records"]["value"]
    assert bars(root, "chart-evaluation-trend") == expected_records

    # Hidden counts stay hidden: the funnel, the steps, the places.
    totals = next(
        r
        for r in table(partnerships, "introductions_by_partner_kind")["rows"]
        if r["key"]["partner_kind"] == "__total__"
    )
    funnel = bars(root, "chart-funnel")
    if "Accepted" in funnel:
        assert abs(funnel["Accepted"] - 70) <= MAX_PERTURBATION  # a count of people: perturbed
    for status, cell in totals["values"].items():
        if cell["suppressed"]:
            assert_hidden(root, "chart-funnel", STATUS_LABELS[status])
        else:
            assert funnel[STATUS_LABELS[status]] == cell["value"]
    steps = table(partnerships, "initiators_by_pathway_step")["rows"]
    hidden_steps = 0
    for row in steps:
        step = row["key"]["pathway_step"]
        if step == "__total__":
            continue
        if row["values"]["initiators"]["suppressed"]:
            assert_hidden(root, "chart-pathway", PATHWAY_STEPS[step])
            hidden_steps += 1
        else:
            assert bars(root, "chart-pathway")[PATHWAY_STEPS[step]] == row["values"]["initiators"]["value"]
    assert hidden_steps, "the fixture hides a count of initiators by step (3 on step 2)"
    assert any(r["values"]["initiators"]["suppressed"] for r in table(coverage, "coverage_gaps")["rows"])
    # And the tables behind the charts say "suppressed" where the charts draw the mark.
    numbers = [d.text() for d in root.find("details", class_="numbers")]
    assert sum(text.count("suppressed") for text in numbers) >= suppressed_cells + hidden_steps


# --- the pieces, without a browser -----------------------------------------------------------


def cell(value: float | None) -> CellRead:
    return CellRead(value=value, suppressed=value is None)


def envelope(name: str, tables: list[TableRead]) -> ReportRead:
    return ReportRead(
        report=name,
        parameters={"released": "2026-12-01T00:00:00+00:00"},
        computed_at=NOW,
        suppression=SuppressionRead(threshold=11, rule="", primary=0, complementary=0, perturbation=2),
        tables=tables,
    )


def test_every_hidden_cell_is_a_mark_never_a_size() -> None:
    """Every kind of chart with hidden cells in it: each is marked, none has a value or a size,
    and the scales come from shown values only."""
    statuses = ["pending", "accepted", "declined", "expired", "withdrawn", "closed"]

    def introductions(key: dict[str, str | None], hide: set[str]) -> RowRead:
        values = {s: cell(None if s in hide else 20) for s in [*statuses, "requested"]}
        return RowRead(key=key, values=values)

    intro_table = TableRead(
        name="introductions_by_quarter",
        description="",
        dimensions=["quarter"],
        columns=[*statuses, "requested"],
        counts_people=True,
        rows=[
            introductions({"quarter": "2025-Q4"}, {"declined", "requested"}),
            introductions({"quarter": "2026-Q2"}, {"accepted", "pending"}),
            introductions({"quarter": "__total__"}, set()),
        ],
    )
    partnerships = envelope(
        "partnerships",
        [
            TableRead(
                name="introductions_by_partner_kind",
                description="",
                dimensions=["partner_kind"],
                columns=[*statuses, "requested"],
                counts_people=True,
                rows=[introductions({"partner_kind": "__total__"}, {"expired", "withdrawn"})],
            ),
            intro_table,
            TableRead(
                name="acceptance_rate_by_partner_kind",
                description="",
                dimensions=["partner_kind"],
                columns=["acceptance_rate"],
                counts_people=True,
                rows=[RowRead(key={"partner_kind": "__total__"}, values={"acceptance_rate": cell(None)})],
            ),
            TableRead(
                name="initiators_by_pathway_step",
                description="",
                dimensions=["pathway_step"],
                columns=["initiators"],
                counts_people=True,
                rows=[
                    RowRead(key={"pathway_step": str(s)}, values={"initiators": cell(None if s % 2 else 30)})
                    for s in range(1, 7)
                ],
            ),
        ],
    )
    evidence = envelope(
        "evidence",
        [
            TableRead(
                name="programs_per_stage",
                description="",
                dimensions=["evaluation_stage"],
                columns=["programs"],
                counts_people=False,
                rows=[RowRead(key={"evaluation_stage": "none"}, values={"programs": cell(5)})],
            ),
            TableRead(
                name="stage_transitions",
                description="",
                dimensions=["quarter", "evaluation_stage"],
                columns=["records"],
                counts_people=False,
                rows=[],
            ),
        ],
    )
    gap = {f"no_{k}_within_50_km": cell(1) for k in ("clinician", "evaluator", "trainer")}
    coverage = envelope(
        "coverage",
        [
            TableRead(
                name="coverage_gaps",
                description="",
                dimensions=["country", "region"],
                columns=[],
                counts_people=True,
                rows=[
                    RowRead(
                        key={"country": "KE", "region": "37"},
                        values={"programs": cell(0), "initiators": cell(None), **gap},
                    ),
                    RowRead(
                        key={"country": "KE", "region": "99"},
                        values={"programs": cell(2), "initiators": cell(0), **gap},
                    ),
                ],
            )
        ],
    )
    programs = envelope(
        "programs",
        [
            TableRead(
                name="programs",
                description="",
                dimensions=["format", "side"],
                columns=["programs"],
                counts_people=False,
                rows=[
                    RowRead(key={"format": "twelve_step", "side": "survivors"}, values={"programs": cell(4)})
                ],
            )
        ],
    )
    root = parse(dashboard.render(programs, evidence, partnerships, coverage))
    for quarter, hide in (("Q4 2025", {"Declined"}), ("Q2 2026", {"Accepted", "Pending"})):
        for status in hide:
            assert_hidden(root, "chart-introductions-trend", f"{quarter} · {status}")
    assert_hidden(root, "chart-introductions-trend", "Q4 2025 · Requested")
    quarters = [
        c.attrs["data-quarter"]
        for c in root.one("svg", id="chart-introductions-trend").find("g", class_="column")
    ]
    assert quarters == ["2025-Q4", "2026-Q1", "2026-Q2"]  # the quarter without any: drawn, as none
    for status in ("Expired", "Withdrawn"):
        assert_hidden(root, "chart-funnel", status)
    for step in ("1", "3", "5"):
        assert_hidden(root, "chart-pathway", PATHWAY_STEPS[step])
    # The scale's top is a shown value's: every shown count is 20 or 30, and hidden ones no bar.
    assert max(bars(root, "chart-pathway").values()) == 30
    axis = [t.text() for t in root.one("svg", id="chart-introductions-trend").find("text", class_="axis")]
    assert axis == ["0", "50", "100"]  # shown stacks of 80 and 80, the hidden parts not in them
    places = {g.attrs["data-region"]: g for g in root.one("svg", id="coverage-map").find("g", class_="place")}
    assert places["37"].attrs["data-state"] == "demand"
    assert "initiators: suppressed" in places["37"].one("title").text()
    assert places["99"].attrs["data-state"] == "gap"
    assert "placed at the country's middle" in places["99"].one("title").text()  # no such region known
    assert (
        "Accepted" in root.one("ul", class_="tiles").text()
        and "not shown" in root.one("ul", class_="tiles").text()
    )


def test_names_fall_back_to_codes() -> None:
    names = Names({"format": {"twelve_step": "Twelve steps"}})
    assert names.term("format", "twelve_step") == "Twelve steps"  # as the stewards keep it
    assert names.term("format", "new_code") == "new_code"
    assert names.region("NL", "09") == "Utrecht"
    assert names.region("KE", "05") == "Nairobi Area"
    assert names.region("US", "CA") == "California"
    assert names.region("NL", "99") == "99"
    assert names.country("KE") == "Kenya"
    assert names.country("QQ") == "QQ"
    assert names.place("NL", "09") == "Utrecht, The Netherlands"
    assert names.place("NL", None) == "The Netherlands"


def test_outlines_and_clipping() -> None:
    by_code = {o.code: o for o in outlines() if o.code}
    assert len(outlines()) == 177
    assert {"NL", "KE", "US", "XK"} <= set(by_code)
    west, south, east, north = by_code["NL"].main
    assert 3 < west < east < 8 and 50 < south < north < 54
    # Alaska and Hawaii are part of the United States, not where it "is".
    assert by_code["US"].main[0] > -130
    square = [(-5.0, -5.0), (5.0, -5.0), (5.0, 5.0), (-5.0, 5.0)]
    assert sorted(clip(square, 0, 0, 10, 10)) == [(0, 0), (0, 5), (5, 0), (5, 5)]
    assert clip(square, 20, 20, 30, 30) == []
