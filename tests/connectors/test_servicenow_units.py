"""ServiceNow's settings and work notes, without a host."""

from __future__ import annotations

import pytest

from shared.connectors import servicenow
from shared.settings import SettingsError, app_settings

BASE = {"CVDSR_SERVICENOW__INSTANCE_URL": "https://acme.service-now.com", "CVDSR_SERVICENOW__TABLE": "sn_task"}


@pytest.mark.parametrize(
    "credentials",
    [
        {},
        {"CVDSR_SERVICENOW__USERNAME": "u"},
        {"CVDSR_SERVICENOW__USERNAME": "u", "CVDSR_SERVICENOW__PASSWORD": "p-9", "CVDSR_SERVICENOW__TOKEN": "t-9"},
    ],
)
def test_one_credential_is_required(credentials: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match="set USERNAME and PASSWORD, or TOKEN") as raised:
        app_settings(BASE | credentials)
    assert "p-9" not in str(raised.value)
    assert "t-9" not in str(raised.value)


def test_a_table_name_is_checked_and_a_token_is_enough() -> None:
    with pytest.raises(SettingsError, match="CVDSR_SERVICENOW__TABLE"):
        app_settings(BASE | {"CVDSR_SERVICENOW__TABLE": "sn_task; drop", "CVDSR_SERVICENOW__TOKEN": "t"})
    configured = app_settings(BASE | {"CVDSR_SERVICENOW__TOKEN": "t-1"}).servicenow
    assert configured is not None
    assert configured.state_succeeded is None, "no state is changed unless one is configured"


def test_the_work_note_says_what_happened_without_the_persons_values() -> None:
    erase = {"request_id": "R-1", "type": "erase", "scope": {"images": {"metadata": {"subject": "hmac-sha256:ab"}}}}
    note = servicenow.work_note(erase, {"status": "succeeded", "counts": {"images": 4}}, {})
    assert (
        note == "cvdsr erase R-1 succeeded. 4 image(s) deleted and verified gone by reading back; certificate attached."
    )
    failed = servicenow.work_note({"request_id": "R-2", "type": "export"}, {"status": "failed", "errors": [{}, {}]}, {})
    assert failed == "cvdsr export R-2 failed. 2 error(s); see the request's manifest in cvdsr."
    link = {"package_url": "https://r/p.zip?sig=x", "expires_at": "2026-12-04"}
    exported = servicenow.work_note(
        {"request_id": "R-3", "type": "export"}, {"status": "succeeded", "counts": {"image_files": 2}}, link
    )
    assert exported.endswith("Package (valid until 2026-12-04): https://r/p.zip?sig=x")
