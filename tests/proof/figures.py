"""The proof suite's figures: what each part tried and what went wrong, printed as one table.

``make proof`` runs the full suite (``CVDSR_PROOF=full``); ``make test`` runs a small deterministic
slice of it, which asserts the same zeros without printing.
"""

from __future__ import annotations

import os
from collections import defaultdict

FULL = os.environ.get("CVDSR_PROOF") == "full"

COLUMNS = (
    "inputs tried",
    "rejections recorded",
    "5xx answers",
    "host crashes",
    "kills survived",
    "requests lost",
    "work done twice",
    "secret hits",
)
# The columns that must read 0 for the proof to hold.
MUST_BE_ZERO = ("5xx answers", "host crashes", "requests lost", "work done twice", "secret hits")

_rows: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COLUMNS, 0))


def add(part: str, **counts: int) -> None:
    """Add to a part's figures; keys are the column names with ``_`` for spaces."""
    row = _rows[part]
    for key, value in counts.items():
        column = key.replace("_", " ").replace("5xx", "5xx")
        if column not in row:
            raise KeyError(f"no column {column!r}")
        row[column] += value


def table() -> str:
    if not _rows:
        return ""
    width = max(len(part) for part in [*_rows, "total"])
    header = "| " + "part".ljust(width) + " | " + " | ".join(COLUMNS) + " |"
    lines = [header, "|" + "-" * (width + 2) + "|" + "|".join("-" * (len(c) + 2) for c in COLUMNS) + "|"]
    totals = dict.fromkeys(COLUMNS, 0)
    for part, row in _rows.items():
        lines.append("| " + part.ljust(width) + " | " + " | ".join(str(row[c]).rjust(len(c)) for c in COLUMNS) + " |")
        for column in COLUMNS:
            totals[column] += row[column]
    lines.append("| " + "total".ljust(width) + " | " + " | ".join(str(totals[c]).rjust(len(c)) for c in COLUMNS) + " |")
    verdict = all(totals[c] == 0 for c in MUST_BE_ZERO)
    lines.append("")
    lines.append("proof " + ("holds: " if verdict else "FAILS: ") + ", ".join(f"{c} {totals[c]}" for c in MUST_BE_ZERO))
    return "\n".join(lines)
