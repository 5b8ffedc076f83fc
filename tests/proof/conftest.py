from __future__ import annotations

from typing import Any

from .figures import table


def pytest_terminal_summary(terminalreporter: Any) -> None:
    text = table()
    if text:
        terminalreporter.section("cvdsr proof")
        terminalreporter.write_line(text)
