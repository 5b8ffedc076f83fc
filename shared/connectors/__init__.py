"""Connectors to privacy platforms: each platform's webhook in, its own API out (docs/connectors.md).

- ``identity``: how the identifier a platform sends finds the person's images (per resource).
- ``records``: what a connector keeps between the webhook and the report (the state container).
- ``outbound``: the HTTP client for a platform's API, with its retry policy.
- ``transcend``: the Transcend "Server Webhook" integration.

A connector turns a webhook into a request v1 and starts it through ``shared.intake.submit``, like every
channel (validation, de-duplication, rejection records and events). Its report goes out with the
request's outcome (``shared.events.completion.deliver_outcome``), for requests its receiver started.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def check_settings(environ: Mapping[str, str] | None = None) -> None:
    """At start-up, beside ``app_settings()``: each configured connector's resources and identity mapping."""
    from . import transcend

    transcend.check_settings(environ)


async def report(request: Mapping[str, Any], outcome: Mapping[str, Any]) -> dict[str, str]:
    """``{platform: how the report went}`` for the platform whose webhook started this request, if any."""
    # Imported here: the connectors start requests through shared.intake, which delivers outcomes.
    from . import transcend

    answer = await transcend.report(request, outcome)
    return {transcend.PLATFORM: answer} if answer is not None else {}
