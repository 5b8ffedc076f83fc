"""checkov's own environment: ``.venv/checkov``, installed from ``requirements-checkov.txt``
(``tests.tool_venv``).

checkov cannot be installed into ``.venv``: every checkov release pins ``packaging<24`` and pytest 9
requires ``packaging>=24`` (``pip check`` would fail, and pytest could break). A first install takes
about a minute; afterwards this is a file read.

``python -m tests.infra.checkov_env`` prepares it ahead of time and prints the checkov executable.
"""

from __future__ import annotations

from pathlib import Path

from tests.tool_venv import ensure

REQUIREMENTS = Path(__file__).with_name("requirements-checkov.txt")


def ensure_checkov(timeout: float = 900) -> Path:
    """The checkov executable, installing its environment first if it is missing or outdated."""
    return ensure("checkov", REQUIREMENTS, "checkov", timeout)


if __name__ == "__main__":
    print(ensure_checkov())
