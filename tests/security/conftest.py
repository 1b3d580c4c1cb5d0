"""Print what the security tests covered (matrix cases, crawl requests) after the run."""

import pytest

from tests.security.world import SUMMARY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SUMMARY:
        terminalreporter.section("security coverage")
        for line in SUMMARY:
            terminalreporter.write_line(line)
