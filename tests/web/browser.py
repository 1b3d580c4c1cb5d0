"""A headless Chromium driven through Selenium and Debian's chromedriver (never a downloaded one),
with what the search page's tests read from it: every network request it made, the cookies it
keeps, full-page screenshots, and axe-core's accessibility check."""

import base64
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.reports.test_dashboard import chromium

AXE = Path(__file__).with_name("axe.min.js")
NETWORK_SCHEMES = ("http", "https", "ws", "wss")
T = TypeVar("T")


def chromedriver() -> str:
    """Debian's chromedriver (package chromium-driver); skipped without it, failed in CI."""
    found = shutil.which("chromedriver")
    for candidate in (found, "/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"):
        if candidate and Path(candidate).is_file():
            return candidate
    if os.environ.get("CI"):
        pytest.fail("chromedriver is required in CI (.ci/run installs Debian's chromium-driver package)")
    pytest.skip(
        "no chromedriver on this machine: install Debian's `chromium-driver` package to run the "
        "search page's browser tests"
    )


@dataclass
class Request:
    id: str
    url: str
    method: str
    body: str | None
    response_headers: dict[str, str] = field(default_factory=dict)


class Browser:
    def __init__(self, base: str, profile: Path) -> None:
        self.base = base
        options = webdriver.ChromeOptions()
        options.binary_location = chromium()
        for argument in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-extensions",
            "--disable-quic",
            "--no-proxy-server",
            # Nothing but this machine is reachable: the quick exit's weather site fails to load
            # (it is only checked that the page went there), and nothing else can leave.
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            "--window-size=1280,900",
            f"--user-data-dir={profile}",
        ):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        self.driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver()))
        self.driver.set_page_load_timeout(30)
        self.driver.set_script_timeout(60)
        self._requests: dict[str, Request] = {}
        self.console: list[dict[str, Any]] = []

    def close(self) -> None:
        self.driver.quit()

    # --- pages and elements -------------------------------------------------------------------------

    def open(self, path: str = "/") -> None:
        self.driver.get(self.base + path)
        self.wait(lambda: self.js("return document.querySelectorAll('input[name=side]').length") >= 3)

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def wait(self, condition: Callable[[], T], timeout: float = 30) -> T:
        return WebDriverWait(self.driver, timeout).until(lambda _: condition())

    def click(self, element: WebElement) -> None:
        """Click as a person would: with the element in the middle of the screen, not under the
        sticky bar (the driver's own scrolling puts it at the very top)."""
        self.js("arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()

    def overflowing(self) -> list[str]:
        """Elements that reach past the right edge of the screen (sideways scrolling on a phone)."""
        found: list[str] = self.js(
            "const w = document.documentElement.clientWidth;"
            "return Array.from(document.querySelectorAll('body *'))"
            ".filter(e => e.getBoundingClientRect().right > w + 0.5)"
            ".map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className + ' '"
            " + Math.round(e.getBoundingClientRect().right));"
        )
        return found

    def focused(self) -> WebElement:
        element: WebElement = self.driver.switch_to.active_element
        return element

    # --- the network ----------------------------------------------------------------------------------

    def requests(self) -> list[Request]:
        """Every request the browser sent over the network so far (from its DevTools log), in order;
        not the browser's own pages (chrome:, chrome-untrusted:) nor data: URLs."""
        for entry in self.driver.get_log("performance"):  # type: ignore[no-untyped-call]
            message = json.loads(entry["message"])["message"]
            params = message.get("params", {})
            if message["method"] == "Network.requestWillBeSent":
                request = params["request"]
                if urlsplit(request["url"]).scheme not in NETWORK_SCHEMES:
                    continue
                self._requests.setdefault(
                    params["requestId"],
                    Request(params["requestId"], request["url"], request["method"], request.get("postData")),
                )
            elif message["method"] == "Network.responseReceivedExtraInfo":
                found = self._requests.get(params["requestId"])
                if found is not None:
                    found.response_headers = {k.lower(): v for k, v in params["headers"].items()}
        return list(self._requests.values())

    def other_origins(self) -> list[str]:
        """URLs of requests to anywhere but the registry."""
        own = urlsplit(self.base).netloc
        return [r.url for r in self.requests() if urlsplit(r.url).netloc != own]

    def browser_log(self) -> list[dict[str, Any]]:
        self.console += self.driver.get_log("browser")  # type: ignore[no-untyped-call]
        return self.console

    def all_cookies(self) -> list[dict[str, Any]]:
        """Every cookie the browser keeps, for every site (DevTools: HttpOnly ones too)."""
        cookies: list[dict[str, Any]] = self.driver.execute_cdp_cmd("Storage.getCookies", {})["cookies"]
        return cookies

    # --- the device -----------------------------------------------------------------------------------

    def desktop(self) -> None:
        self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        self.driver.set_window_size(1280, 900)

    def phone(self) -> None:
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True},
        )

    def locate_at(self, latitude: float, longitude: float) -> None:
        self.driver.execute_cdp_cmd(
            "Browser.grantPermissions", {"origin": self.base, "permissions": ["geolocation"]}
        )
        self.driver.execute_cdp_cmd(
            "Emulation.setGeolocationOverride",
            {"latitude": latitude, "longitude": longitude, "accuracy": 10},
        )

    def screenshot(self, path: Path, width: int, max_height: int) -> None:
        """The page from its top, `width` CSS pixels wide and at most `max_height` high, as a PNG."""
        self.js("window.scrollTo(0, 0)")  # the sticky bar at the top, where a person first sees it
        height = min(max_height, int(self.js("return Math.ceil(document.documentElement.scrollHeight)")))
        shot = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
            },
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    # --- accessibility --------------------------------------------------------------------------------

    def axe(self) -> list[dict[str, Any]]:
        """axe-core's violations on the page as it is now (WCAG 2.x A/AA and best practices)."""
        if not self.js("return typeof window.axe === 'object'"):
            self.js(AXE.read_text(encoding="utf-8"))
        results: dict[str, Any] = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']})"
            ".then(r => done(r), e => done({error: String(e)}));"
        )
        assert "error" not in results, results
        violations: list[dict[str, Any]] = results["violations"]
        return violations
