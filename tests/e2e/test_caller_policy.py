"""The caller policy end to end: an erase from a caller not allowed to erase is rejected."""

from __future__ import annotations

import json
from typing import Any

import httpx

from .support import environment


def test_the_caller_policy_refuses_an_erase_from_a_caller_not_allowed_to(azurite: Any) -> None:
    policy = {"principals": {"reader-app": {"types": ["export"]}, "dpo-app": {"types": ["export", "erase"]}}}
    with environment(azurite, CVDSR_CALLER_POLICY=json.dumps(policy)) as running:
        erase = running.request("POL-1", type="erase", scope={"projects": "all", "images": {"tag_names": ["x"]}})
        url = f"{running.host.base_url}/api/requests"
        refused = httpx.post(url, json=erase, headers={"X-MS-CLIENT-PRINCIPAL-ID": "reader-app"}, timeout=30)
        assert refused.status_code == 400
        assert refused.json()["reasons"] == ["caller policy: this caller may not submit erase requests"]
        anonymous = httpx.post(url, json=erase, timeout=30)
        assert anonymous.status_code == 400
        allowed = httpx.post(url, json=erase, headers={"X-MS-CLIENT-PRINCIPAL-ID": "dpo-app"}, timeout=30)
        assert allowed.status_code == 202, allowed.text
        running.wait("POL-1")
        events = running.events("POL-1")
        assert [e["type"] for e in events][-1] == "cvdsr.erase.completed"
