"""A tool's own virtual environment inside ``.venv`` (``.venv/<name>``), for tools whose pins clash with
the project's (checkov pins ``packaging<24``; Fides pins most of its stack).

It is created once from the tool's fully pinned requirements file and recreated only when that file (or
a file it names with ``-c``/``-r``) changes: a stamp holds their sha256. ``make clean`` removes it with
the rest of ``.venv``.
"""

from __future__ import annotations

import fcntl
import hashlib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _digest(requirements: Path) -> str:
    digest = hashlib.sha256(requirements.read_bytes())
    for line in requirements.read_text().splitlines():
        if line.startswith(("-c ", "-r ")):
            digest.update((requirements.parent / line[3:].strip()).read_bytes())
    return digest.hexdigest()


def ensure(name: str, requirements: Path, executable: str, timeout: float = 900) -> Path:
    """``.venv/<name>/bin/<executable>``, installing the environment first if it is missing or outdated."""
    venv = ROOT / ".venv" / name
    program, stamp = venv / "bin" / executable, venv / ".requirements.sha256"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with (venv.parent / f".{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one installer at a time (parallel pytest runs)
        digest = _digest(requirements)
        if program.exists() and stamp.exists() and stamp.read_text().strip() == digest:
            return program
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, timeout=120)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "-r", str(requirements)], check=True, timeout=timeout)
        stamp.write_text(digest + "\n")
        return program
