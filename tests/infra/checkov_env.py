"""checkov's own environment: ``.venv/checkov``, installed from ``requirements-checkov.txt``.

checkov cannot be installed into ``.venv``: every checkov release pins ``packaging<24`` and pytest 9
requires ``packaging>=24`` (``pip check`` would fail, and pytest could break). So it gets a virtual
environment of its own inside ``.venv`` (removed by ``make clean`` with the rest). It is created once,
from the fully pinned requirements file, and recreated only when that file changes (a stamp holds its
sha256). A first install takes about a minute; afterwards this is a file read.

``python -m tests.infra.checkov_env`` prepares it ahead of time and prints the checkov executable.
"""

from __future__ import annotations

import fcntl
import hashlib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv" / "checkov"
REQUIREMENTS = Path(__file__).with_name("requirements-checkov.txt")
STAMP = VENV / ".requirements.sha256"
CHECKOV = VENV / "bin" / "checkov"


def _digest() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def ensure_checkov(timeout: float = 900) -> Path:
    """The checkov executable, installing its environment first if it is missing or outdated."""
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with (VENV.parent / ".checkov.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one installer at a time (parallel pytest runs)
        digest = _digest()
        if CHECKOV.exists() and STAMP.exists() and STAMP.read_text().strip() == digest:
            return CHECKOV
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True, timeout=120)
        pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "-r", str(REQUIREMENTS)], check=True, timeout=timeout)
        STAMP.write_text(digest + "\n")
        return CHECKOV


if __name__ == "__main__":
    print(ensure_checkov())
