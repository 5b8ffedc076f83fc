"""Connectors to privacy platforms: each platform's webhook in, its own API out (docs/connectors.md).

- ``identity``: how the identifier a platform sends finds the person's images (per resource).
- ``records``: what a connector keeps between the webhook and the report (the state container).
- ``outbound``: the HTTP client for a platform's API, with its retry policy.
- ``transcend``: the Transcend "Server Webhook" integration.
- ``datagrail``: DataGrail's HMAC-signed webhook and its callback URL.
- ``onetrust``: a OneTrust workflow's webhook, and the subtask completed through the DSAR API.
- ``fides``: the SaaS connector a Fides server runs (``integrations/fides/``), polling or called back.
- ``servicenow``: the task a request names, updated through the Table and Attachment APIs.

A connector turns a webhook into a request v1 and starts it through ``shared.intake.submit``, like every
channel (validation, de-duplication, rejection records and events). Its report goes out with the
request's outcome (``shared.events.completion.deliver_outcome``), for requests its receiver started.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.settings import app_settings, load_resources

from .identity import resources_setting, shared_mapping


def check_settings(environ: Mapping[str, str] | None = None) -> None:
    """At start-up, beside ``app_settings()``: the resources each configured connector searches exist
    and map people one way (``identity.shared_mapping``)."""
    settings = app_settings(environ)
    sections = {
        "transcend": settings.transcend,
        "datagrail": settings.datagrail,
        "onetrust": settings.onetrust,
        "fides": settings.fides,
    }
    for platform, section in sections.items():
        if section is not None:
            shared_mapping(load_resources(environ), section.resource_names, resources_setting(platform))


async def report(request: Mapping[str, Any], outcome: Mapping[str, Any], result: Mapping[str, Any]) -> dict[str, str]:
    """``{platform: how the report went}`` for the platform whose webhook started this request, if any.
    ``result`` is the completion event's (the fresh read link to the package)."""
    # Imported here: the connectors start requests through shared.intake, which delivers outcomes.
    from . import datagrail, fides, onetrust, servicenow, transcend

    answers = {
        transcend.PLATFORM: await transcend.report(request, outcome),
        datagrail.PLATFORM: await datagrail.report(request, outcome, result),
        onetrust.PLATFORM: await onetrust.report(request, outcome, result),
        servicenow.PLATFORM: await servicenow.report(request, outcome, result),
        fides.PLATFORM: await fides.report(request, outcome),
    }
    return {platform: answer for platform, answer in answers.items() if answer is not None}
