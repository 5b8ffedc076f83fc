"""The orchestration stays readable: no function in ``shared/orchestration`` over 60 lines (a kind's
steps are a generator of their own, not a branch of one long one)."""

from __future__ import annotations

import ast
from pathlib import Path

ORCHESTRATION = Path(__file__).parents[1] / "shared" / "orchestration"
LIMIT = 60


def test_no_orchestration_function_is_longer_than_60_lines() -> None:
    long = []
    for path in sorted(ORCHESTRATION.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > LIMIT:
                    long.append(f"{path.name}:{node.lineno} {node.name} ({lines} lines)")
    assert long == []
