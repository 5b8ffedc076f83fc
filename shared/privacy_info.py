"""The Art. 15 information of one Custom Vision resource (README "The Art. 15 information").

GDPR Art. 15(1) and (2) give the person more than a copy of the data: why it is processed and on
what legal basis, what kinds of data, who receives it, how long it is kept, where it came from,
where it is held and how a transfer outside the EEA is safeguarded, and whether decisions are
automated. cvdsr cannot know these facts; the controller writes them once per resource in a JSON
file (``CUSTOMVISION__<NAME>__PRIVACY_INFO``, its published schema
``shared/schemas/privacy-info.v1.schema.json``, generated from ``PrivacyInfo``: ``python -m
shared.privacy_info > shared/schemas/privacy-info.v1.schema.json``; a test keeps the two equal).

Every field may be left out: the report then says "not configured" and the manifest lists a warning;
nothing is invented.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

NOT_CONFIGURED = "not configured"
MAX_FILE_BYTES = 256 * 1024

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Contact(_Strict):
    """Who to write to: at least one way to reach them."""

    name: Text | None = None
    email: Text | None = None
    address: Text | None = None
    phone: Text | None = None
    url: Text | None = None

    @model_validator(mode="after")
    def _reachable(self) -> Contact:
        if not any((self.email, self.address, self.phone, self.url)):
            raise ValueError("a contact needs an email, address, phone or url")
        return self


class Purpose(_Strict):
    """One purpose of the processing and its legal basis (Art. 15(1)(a), Art. 6(1))."""

    purpose: Text
    legal_basis: Text  # e.g. "Art. 6(1)(f) GDPR: legitimate interests (quality control of products)"


class Transfers(_Strict):
    """Where the data is held, and the safeguards of a transfer outside the EEA (Art. 15(2), Art. 46)."""

    region: Text  # the Azure region of the resource, e.g. "West Europe (Netherlands)"
    outside_eea: bool
    safeguards: Text | None = None  # e.g. "Standard Contractual Clauses (Commission Decision 2021/914)"

    @model_validator(mode="after")
    def _safeguarded(self) -> Transfers:
        if self.outside_eea and self.safeguards is None:
            raise ValueError("a transfer outside the EEA needs its safeguards")
        return self


class AutomatedDecisions(_Strict):
    """Art. 15(1)(h): whether automated decisions (Art. 22) are made, and if so how and with what effect."""

    used: bool
    logic: Text | None = None
    consequences: Text | None = None

    @model_validator(mode="after")
    def _explained(self) -> AutomatedDecisions:
        if self.used and (self.logic is None or self.consequences is None):
            raise ValueError("automated decisions need their logic and consequences")
        return self


class PrivacyInfo(_Strict):
    """The controller's statement for one resource. Fields left out are reported as not configured."""

    schema_version: Literal[1]
    controller: Contact | None = None
    dpo: Contact | None = None
    purposes: Annotated[list[Purpose], Field(min_length=1, max_length=50)] | None = None
    categories: Annotated[list[Text], Field(min_length=1, max_length=50)] | None = None
    recipients: Annotated[list[Text], Field(min_length=1, max_length=50)] | None = None
    retention: Text | None = None
    source: Text | None = None
    transfers: Transfers | None = None
    automated_decision_making: AutomatedDecisions | None = None
    supervisory_authority: Contact | None = None  # where the person may complain (Art. 77)


# The fields the report shows, in its order, with the reader's heading.
FIELDS: dict[str, str] = {
    "controller": "Controller",
    "dpo": "Data protection officer",
    "purposes": "Purposes and legal basis",
    "categories": "Categories of personal data",
    "recipients": "Recipients",
    "retention": "Retention period",
    "source": "Source of the data",
    "transfers": "Where the data is held, transfers outside the EEA and their safeguards",
    "automated_decision_making": "Automated decision-making",
    "supervisory_authority": "Supervisory authority",
}


def read_privacy_info(path: str) -> PrivacyInfo:
    """The file at ``path``, validated. Raises ``ValueError`` with the rule and the field, never a value.

    Resources load in every activity (``shared.connections``): the file is read and validated once per
    version of it (its modification time and size), not on each load."""
    try:
        stat = Path(path).stat()
    except OSError:
        raise ValueError("names a file that cannot be read") from None
    return _read(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _read(path: str, _mtime_ns: int, size: int) -> PrivacyInfo:
    """One version of the file (a failure is not cached: it raises, and the next load tries again)."""
    file = Path(path)
    try:
        if size > MAX_FILE_BYTES:
            raise ValueError(f"is over {MAX_FILE_BYTES // 1024} KB")
        document = json.loads(file.read_bytes().decode("utf-8"))
    except OSError:
        raise ValueError("names a file that cannot be read") from None
    except UnicodeDecodeError:
        raise ValueError("is not UTF-8") from None
    except json.JSONDecodeError:
        raise ValueError("is not JSON") from None
    try:
        return PrivacyInfo.model_validate(document)
    except ValidationError as error:
        # loc and msg only: pydantic's own text would echo the input.
        problems = "; ".join(
            f"$.{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" if e["loc"] else e["msg"]
            for e in error.errors(include_input=False, include_url=False)
        )
        raise ValueError(f"does not match the schema: {problems}") from None


def statement(info: PrivacyInfo | None) -> dict[str, Any]:
    """Every field of ``FIELDS``, as configured or ``"not configured"`` (what report.json holds)."""
    configured = info.model_dump(mode="json", exclude_none=True) if info is not None else {}
    return {name: configured.get(name, NOT_CONFIGURED) for name in FIELDS}


def missing(info: PrivacyInfo | None) -> list[str]:
    """The fields not configured, in the report's order."""
    return [name for name, value in statement(info).items() if value == NOT_CONFIGURED]


def json_schema() -> dict[str, Any]:
    """The published JSON Schema of a resource's privacy information file."""
    schema = PrivacyInfo.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://cvdsr.dev/schemas/privacy-info.v1.schema.json"
    schema["title"] = "cvdsr privacy information of a Custom Vision resource (GDPR Art. 15), version 1"
    return schema


def main() -> None:
    """Print the JSON Schema: ``python -m shared.privacy_info > shared/schemas/privacy-info.v1.schema.json``."""
    print(json.dumps(json_schema(), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
