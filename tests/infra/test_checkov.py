"""checkov over infra/ with its Bicep framework (it parses .bicep natively, no Bicep CLI needed):
no failed check, no file it could not parse, no check that crashed, and every skip justified inline
(``// checkov:skip=CKV_…: reason`` inside the resource) and listed here, so a new skip is a decision."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest

from .checkov_env import ensure_checkov
from .template import INFRA, ROOT

# The first run installs checkov's environment (about a minute, more on a slow mirror).
pytestmark = pytest.mark.timeout(900)

# (check, resource): the reason is in the Bicep next to the resource, and in docs/deploy.md.
EXPECTED_SKIPS = {
    ("CKV_AZURE_36", "Microsoft.Storage/storageAccounts.storage"),  # no trusted-service bypass needed
    ("CKV_AZURE_206", "Microsoft.Storage/storageAccounts.storage"),  # ZRS, no geo copy of personal data
    ("CKV_AZURE_225", "Microsoft.Web/serverfarms.plan"),  # zone redundancy is a parameter
    ("CKV_AZURE_17", "Microsoft.Web/sites.functionApp"),  # no mutual TLS in the contract
    ("CKV_AZURE_222", "Microsoft.Web/sites.functionApp"),  # public inbound is a parameter (HTTP API)
    ("CKV_AZURE_212", "Microsoft.Web/sites.functionApp"),  # one instance by design (API rate)
    ("CKV_AZURE_213", "Microsoft.Web/sites.functionApp"),  # no health endpoint
    ("CKV_AZURE_112", "Microsoft.KeyVault/vaults/keys.signingKey"),  # Standard vault: software key
}


@pytest.fixture(scope="module")
def checkov_report() -> tuple[dict[str, Any], str]:
    checkov = ensure_checkov()
    # --skip-download: offline, no guideline download from the vendor's API.
    arguments = ["--directory", str(INFRA), "--framework", "bicep", "--output", "json", "--compact", "--skip-download"]
    completed = subprocess.run(
        [str(checkov), *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "LOG_LEVEL": "WARNING"},
    )
    assert completed.stdout.strip(), completed.stderr[-3000:]
    report = json.loads(completed.stdout)
    assert isinstance(report, dict), "expected one framework's report"
    return report, completed.stderr


def test_no_failed_checks(checkov_report: tuple[dict[str, Any], str]) -> None:
    report, _ = checkov_report
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
        for c in report["results"]["failed_checks"]
    ]
    assert failed == []
    assert report["summary"]["failed"] == 0


def test_every_file_parsed_and_every_check_ran(checkov_report: tuple[dict[str, Any], str]) -> None:
    report, stderr = checkov_report
    assert report["summary"]["parsing_errors"] == 0, report["results"].get("parsing_errors")
    assert report["summary"]["resource_count"] >= 40, "checkov read fewer resources than infra/ declares"
    assert report["summary"]["passed"] >= 30
    assert "Failed to run check" not in stderr, stderr[-3000:]


def test_every_skip_is_justified_and_expected(checkov_report: tuple[dict[str, Any], str]) -> None:
    report, _ = checkov_report
    skipped = report["results"]["skipped_checks"]
    for check in skipped:
        reason = check["check_result"].get("suppress_comment", "")
        assert reason != "No comment provided", check["check_id"]
        assert len(reason) >= 40, f"{check['check_id']}: say why, not just that ({reason!r})"
    assert {(c["check_id"], c["resource"]) for c in skipped} == EXPECTED_SKIPS
