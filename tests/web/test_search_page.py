"""The search page at `/` in a real headless Chromium, against a real server on the seeded data:
search and read results, use my location (snapped in the browser), ask for an introduction (the
key only in an HttpOnly cookie), the quick exit, keyboard use, axe-core's check, and that nothing
is requested from another origin. Screenshots go to docs/screenshots/."""

import asyncio
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from registry.locations.geo import BAND_CODES, snap_to_grid
from registry.matching.scoring import FACTORS, REASONS
from registry.models import Initiator, Introduction
from registry.taxonomies.vocabulary import DEFAULT_TERMS
from tests.web.browser import Browser, Request
from tests.web.conftest import Site

SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
EXIT_URL = "https://www.bbc.com/weather"
COOKIE = "registry_initiator"
WHERE = "Denver, US"
SIDE = "people_who_use_violence"
# Codes the page must show as words: every vocabulary code, distance band and reason code that
# has an underscore in it (the codes without one read as plain words already).
RAW_CODES = sorted(
    {code for terms in DEFAULT_TERMS.values() for code, _, _ in terms if "_" in code}
    | {code for code in BAND_CODES if "_" in code}
    | {code for code in REASONS if "_" in code}
)


# --- driving the page ---------------------------------------------------------------------------------


def choose(browser: Browser, name: str, code: str) -> None:
    browser.click(browser.find(f'label[for="{name}-{code}"]'))


def search(browser: Browser, where: str = WHERE, side: str = SIDE, needs: tuple[str, ...] = ()) -> str:
    """Fill the form as a person would and search; answers the status line once results are in."""
    field = browser.find("#where")
    if field.is_enabled():
        field.clear()
        field.send_keys(where)
    choose(browser, "side", side)
    for need in needs:
        choose(browser, "needs", need)
    before = len(matches_sent(browser))
    browser.click(browser.find("#search-button"))
    browser.wait(lambda: len(matches_sent(browser)) > before)
    browser.wait(lambda: re.match(r"Found|No partners|The search did not run", browser.find("#status").text))
    return browser.find("#status").text


def matches_sent(browser: Browser) -> list[Request]:
    return [r for r in browser.requests() if r.method == "POST" and urlsplit(r.url).path == "/matches"]


def last_match_body(browser: Browser) -> dict[str, Any]:
    sent = matches_sent(browser)
    assert sent and sent[-1].body
    body: dict[str, Any] = json.loads(sent[-1].body)
    return body


def result_names(browser: Browser) -> dict[str, list[str]]:
    shown: dict[str, list[str]] = {}
    for section in browser.find_all("#results section.kind"):
        kind = (section.get_attribute("aria-labelledby") or "").removeprefix("kind-")
        shown[kind] = [h.text for h in section.find_elements("css selector", "li.result h4")]
    return shown


def ask_for_introduction(browser: Browser, result: WebElement, message: str, *, profile: bool) -> None:
    browser.click(result.find_element("css selector", "button.ask-button"))
    browser.wait(lambda: browser.focused().get_attribute("id") == "ask-message")
    browser.focused().send_keys(message)
    assert browser.find("#ask-profile").is_displayed() is profile
    if profile:
        browser.find("#ask-name").send_keys("Alex")
        browser.find("#ask-email").send_keys("alex.initiator@example.org")
    browser.click(browser.find("#ask-send"))
    browser.wait(lambda: result.find_elements("css selector", ".asked"))


def database(site: Site, statement: Any) -> list[Any]:
    async def run() -> list[Any]:
        engine = create_async_engine(site.database_url)
        try:
            async with engine.connect() as conn:
                return list((await conn.execute(statement)).all())
        finally:
            await engine.dispose()

    return asyncio.run(run())


def assert_no_third_party(browser: Browser) -> None:
    assert browser.other_origins() == []


# --- the tests ---------------------------------------------------------------------------------------


def test_search_shows_the_matchers_results_in_plain_words(site: Site, browser: Browser) -> None:
    browser.open()
    history = browser.js("return history.length")
    status = search(browser)
    assert status.startswith("Found"), status

    # The same matcher as POST /matches: the page shows exactly its answer, in its order.
    body = last_match_body(browser)
    assert body["location"] == {"place": WHERE} and body["side"] == SIDE
    answer = httpx.post(f"{site.base}/matches", json=body, timeout=30).json()
    expected = {kind: [c["listing"]["name"] for c in found] for kind, found in answer["results"].items()}
    assert result_names(browser) == expected
    assert sum(map(len, expected.values())) > 0

    results = browser.find("#results")
    text = results.text
    assert not [code for code in RAW_CODES if code in text], "raw codes shown instead of labels"
    first = results.find_element("css selector", "li.result")
    facts = first.find_element("css selector", ".facts").text
    assert re.search(r"(under 5 km|\d+ to \d+ km|over 100 km) away|works remotely", facts), facts
    assert first.find_elements("css selector", ".reasons li")
    factors = [th.text for th in first.find_elements("css selector", "table.breakdown tbody th")]
    assert factors and all(f and f not in FACTORS for f in factors)  # labels, not factor codes
    caption = first.find_element("css selector", "table.breakdown caption").text
    top = answer["results"][next(k for k, v in answer["results"].items() if v)][0]
    assert f"{round(top['score'] * 100)} out of 100" in caption

    # Search terms went in the POST body only: not in any URL, not in the history.
    for request in browser.requests():
        assert not urlsplit(request.url).query, request.url
        assert "Denver" not in request.url
    assert browser.driver.current_url == f"{site.base}/"
    assert browser.js("return history.length") == history
    assert_no_third_party(browser)

    browser.screenshot(SCREENSHOTS / "search-desktop.png", 1280, 2600)
    browser.phone()
    assert browser.overflowing() == []  # no sideways scrolling
    browser.screenshot(SCREENSHOTS / "search-phone.png", 390, 4200)


POINTS = [
    (39.7392, -104.9903),  # Denver
    (52.0907, 5.1214),  # Utrecht
    (-33.8688, 151.2093),  # Sydney
    (64.1466, -21.9426),  # Reykjavik: narrower cells, more columns
]


def test_my_location_leaves_the_browser_snapped_to_the_coarse_grid(site: Site, browser: Browser) -> None:
    browser.open()
    for latitude, longitude in POINTS:
        browser.locate_at(latitude, longitude)
        if browser.find("#forget-location").is_displayed():
            browser.click(browser.find("#forget-location"))
        browser.click(browser.find("#locate"))
        browser.wait(lambda: browser.find("#forget-location").is_displayed())
        search(browser)
        sent = last_match_body(browser)["location"]
        snapped = snap_to_grid(latitude, longitude)
        assert sent == {"latitude": snapped[0], "longitude": snapped[1]}, (latitude, longitude)
        assert str(latitude) not in json.dumps(sent)
        # The page never shows the point.
        page = browser.find("body").text
        assert f"{snapped[0]}" not in page and f"{latitude}" not in page
    assert_no_third_party(browser)


def test_asking_for_an_introduction_keeps_the_key_in_an_httponly_cookie(site: Site, browser: Browser) -> None:
    browser.open()
    search(browser, needs=("peer_program", "clinician"))
    results = browser.find_all("li.result")
    assert len(results) >= 2
    marker = "Starting a group in the mountains; could you help? (page test)"
    target = results[0].get_attribute("data-listing-id")
    ask_for_introduction(browser, results[0], marker, profile=True)

    # The response that opened the session set the cookie HttpOnly and SameSite=Strict.
    opened = [r for r in browser.requests() if r.method == "POST" and r.url.endswith("/web/session")]
    assert len(opened) == 1
    set_cookie = opened[0].response_headers["set-cookie"]
    assert set_cookie.startswith(f"{COOKIE}=rk_")
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie.replace("strict", "Strict")
    kept = [c for c in browser.all_cookies() if c["name"] == COOKIE]
    assert len(kept) == 1 and kept[0]["httpOnly"] and kept[0]["sameSite"] == "Strict"
    key = kept[0]["value"]
    # The page's script can never read it.
    readable = browser.js("return document.cookie")
    assert key not in readable and COOKIE not in readable

    # The introduction exists: through the API with that key, and in the database.
    mine = httpx.get(f"{site.base}/introductions", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert [(i["listing"]["id"], i["message"], i["status"]) for i in mine.json()["items"]] == [
        (target, marker, "pending")
    ]
    asked_for = select(Introduction.listing_id, Introduction.initiator_email)
    stored = database(site, asked_for.where(Introduction.message == marker))
    assert [(str(listing), email) for listing, email in stored] == [(target, "alex.initiator@example.org")]

    # A second request goes out on the same session: no new profile, no name or email asked again.
    second = "A second question from the same page (page test)"
    ask_for_introduction(browser, browser.find_all("li.result")[1], second, profile=False)
    assert browser.focused().text.startswith("Request sent")  # focus is not lost with the form
    profiles = database(site, select(Initiator.id).where(Initiator.email == "alex.initiator@example.org"))
    assert len(profiles) == 1
    asked = httpx.get(f"{site.base}/introductions", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert {i["message"] for i in asked.json()["items"]} == {marker, second}

    # The message and the key travelled only where they had to; nothing was logged of them.
    for request in browser.requests():
        assert marker not in request.url and key not in request.url
        if request.body and marker in request.body:
            assert urlsplit(request.url).path == "/introductions"
    output = site.output()
    for secret in (key, "rk_", marker, "alex.initiator@example.org", "Denver"):
        assert secret not in output, f"the server's output holds {secret!r}"
    assert_no_third_party(browser)

    # "Forget me on this device" ends the session.
    browser.click(browser.find("#forget-me"))
    browser.wait(lambda: not [c for c in browser.all_cookies() if c["name"] == COOKIE])
    assert not browser.find("#session-note").is_displayed()


@pytest.mark.parametrize("how", ["button", "escape"])
def test_quick_exit_replaces_the_page_and_leaves_no_search_in_history(
    site: Site, browser: Browser, how: str
) -> None:
    browser.driver.get(f"{site.base}/health")  # where the person was before the search page
    browser.open()
    history = browser.js("return history.length")
    search(browser)
    # Something sensitive on the page, and a session in the cookie.
    browser.click(browser.find("button.ask-button"))
    browser.wait(lambda: browser.focused().get_attribute("id") == "ask-message")
    browser.focused().send_keys("a message being written")
    opened = browser.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/web/session', {method: 'POST', headers: {'X-Registry-Page': '1', 'Content-Type': "
        "'application/json'}, body: JSON.stringify({display_name: 'Exit', email: 'exit@example.org'})})"
        ".then(r => done(r.status));"
    )
    assert opened == 201
    assert [c for c in browser.all_cookies() if c["name"] == COOKIE]

    if how == "button":
        browser.click(browser.find("#quick-exit"))
    else:
        ActionChains(browser.driver).send_keys(Keys.ESCAPE).perform()
    browser.wait(lambda: browser.driver.current_url.startswith(EXIT_URL))

    # The session went with the page.
    browser.wait(lambda: not [c for c in browser.all_cookies() if c["name"] == COOKIE], timeout=15)
    # The page's entry was replaced, not added to: going back skips the search altogether and
    # lands where the person was before it.
    assert browser.js("return history.length") == history
    browser.driver.back()
    browser.wait(lambda: not browser.driver.current_url.startswith(EXIT_URL))
    assert browser.driver.current_url == f"{site.base}/health"
    deletes = [r for r in browser.requests() if r.method == "DELETE" and r.url.endswith("/web/session")]
    assert deletes


def test_bad_input_is_explained_on_the_page(site: Site, browser: Browser) -> None:
    browser.open()
    browser.click(browser.find("#search-button"))
    assert "Choose which side" in browser.find("#search-error").text  # the one choice needed
    assert browser.focused().get_attribute("name") == "side"
    assert not matches_sent(browser)
    search(browser, where="Denver")  # no country code
    error = browser.wait(lambda: browser.find("#search-error").text)
    assert "two-letter country code" in error
    assert browser.find("#search-error").get_attribute("role") == "alert"
    assert browser.find("#status").text == "The search did not run."


def tab_to(browser: Browser, css: str, limit: int = 150) -> WebElement:
    """Press Tab until the element matching `css` has focus (it must be reachable by keyboard)."""
    targets = set(browser.find_all(css))
    for _ in range(limit):
        ActionChains(browser.driver).send_keys(Keys.TAB).perform()
        if browser.focused() in targets:
            return browser.focused()
    raise AssertionError(f"Tab never reached {css}")


def test_the_page_works_by_keyboard_alone(site: Site, browser: Browser) -> None:
    browser.open()
    ActionChains(browser.driver).send_keys(Keys.TAB).perform()
    assert browser.focused().get_attribute("class") == "skip"
    ActionChains(browser.driver).send_keys(Keys.TAB).perform()
    assert browser.focused().get_attribute("id") == "quick-exit"  # the exit comes first

    tab_to(browser, "#where").send_keys(WHERE)
    tab_to(browser, 'input[name="side"]')
    # Arrow keys move through the radio group and choose.
    ActionChains(browser.driver).send_keys(Keys.SPACE).perform()
    ActionChains(browser.driver).send_keys(Keys.ARROW_DOWN).perform()
    assert browser.focused().get_attribute("value") == SIDE
    assert browser.focused().is_selected()
    tab_to(browser, 'input[name="needs"]')
    ActionChains(browser.driver).send_keys(Keys.SPACE).perform()
    button = tab_to(browser, "#search-button")
    outline = browser.js(
        "const s = getComputedStyle(arguments[0]); return [s.outlineStyle, s.boxShadow];", button
    )
    assert outline[0] != "none" or outline[1] != "none", "no visible focus"
    ActionChains(browser.driver).send_keys(Keys.ENTER).perform()
    browser.wait(lambda: browser.find("#status").text.startswith("Found"))
    assert browser.find("#status").get_attribute("aria-live") == "polite"

    tab_to(browser, "button.ask-button")
    ActionChains(browser.driver).send_keys(Keys.ENTER).perform()
    browser.wait(lambda: browser.focused().get_attribute("id") == "ask-message")
    tab_to(browser, "#ask-cancel")
    ActionChains(browser.driver).send_keys(Keys.ENTER).perform()
    browser.wait(lambda: not browser.find("#ask").is_displayed())
    assert "ask-button" in (browser.focused().get_attribute("class") or "")  # back where it was


def serious(violations: list[dict[str, Any]]) -> list[str]:
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
        for v in violations
        if v.get("impact") in ("serious", "critical")
    ]


def test_axe_finds_no_serious_or_critical_violation(site: Site, browser: Browser) -> None:
    browser.open()
    found = serious(browser.axe())
    search(browser)
    browser.click(browser.find("button.ask-button"))
    browser.wait(lambda: browser.find("#ask").is_displayed())
    browser.click(browser.find("#languages summary"))  # the language choices open
    found += serious(browser.axe())
    browser.phone()
    found += serious(browser.axe())
    assert found == []


def test_the_page_is_served_with_a_strict_policy_and_loads_nothing_else(site: Site, browser: Browser) -> None:
    page = httpx.get(f"{site.base}/", timeout=30)
    policy = page.headers["content-security-policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
    ):
        assert directive in policy
    assert "unsafe" not in policy and "*" not in policy
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"

    browser.open()
    search(browser)
    browser.locate_at(39.7392, -104.9903)
    browser.click(browser.find("#locate"))
    browser.wait(lambda: browser.find("#forget-location").is_displayed())
    browser.click(browser.find("button.ask-button"))
    assert_no_third_party(browser)
    # The page runs under its own policy without breaking it, and without script errors (answers
    # such as 401 from asking whether a session is open are the network's, not errors).
    problems = [
        entry["message"]
        for entry in browser.browser_log()
        if entry["level"] == "SEVERE" and entry.get("source") != "network"
    ]
    assert problems == []
    assert browser.find("footer a[href='/reports/dashboard']").is_displayed()
    assert browser.find("footer a[href='/schema']").is_displayed()
