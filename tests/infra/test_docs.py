"""docs/deploy.md stays true to the template: its parameter table, its checkov skips, and the webhook
verification snippet integrators copy."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import cast

from shared.events.channels import sign, verify

from . import bicep
from .template import MAIN, PARAMETERS, ROOT
from .test_checkov import EXPECTED_SKIPS

DOC = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")


def test_parameter_table_matches_the_template() -> None:
    declared = {d.name for d in bicep.parse(MAIN.read_text(encoding="utf-8")) if d.keyword == "param"}
    parameters = json.loads(PARAMETERS.read_text(encoding="utf-8"))["parameters"]
    rows = re.findall(r"^\| (`[A-Z_]+`|\(file\)) \| `(\w+)` \|", DOC, re.M)
    documented = {parameter for _, parameter in rows}
    assert documented <= declared, documented - declared
    for name, entry in parameters.items():
        for variable in re.findall(r"\$\{([A-Z_]+)", json.dumps(entry)):
            if variable not in ("AZURE_ENV_NAME", "AZURE_LOCATION"):
                assert (f"`{variable}`", name) in rows, f"{variable} ({name}) is not documented"


def test_every_checkov_skip_is_documented() -> None:
    for check, _ in EXPECTED_SKIPS:
        assert re.search(rf"^\| {check} \(", DOC, re.M), f"{check} is skipped but not explained in docs/deploy.md"


def test_the_webhook_verification_snippet_agrees_with_the_app() -> None:
    (snippet,) = re.findall(r"```python\n(.*?)```", DOC, re.S)
    namespace: dict[str, object] = {}
    exec(compile(snippet, "docs/deploy.md", "exec"), namespace)  # noqa: S102 - the project's own docs
    documented = cast(Callable[[str, str, bytes, str], bool], namespace["verify"])
    body = b'{"specversion":"1.0"}'
    now = str(int(time.time()))
    stale = str(int(time.time()) - 3600)
    good = sign("s3cret", now, body)
    cases = [
        ("s3cret", now, body, good),
        ("other", now, body, good),
        ("s3cret", now, body + b" ", good),
        ("s3cret", stale, body, sign("s3cret", stale, body)),
        ("s3cret", "not-a-time", body, good),
    ]
    for case in cases:
        assert documented(*case) == verify(*case), case
    assert documented(*cases[0]) is True
