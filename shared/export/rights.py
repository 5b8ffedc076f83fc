"""The person's rights, as the report states them (GDPR Art. 15(1)(e) and (f); for a CCPA request,
Cal. Civ. Code §1798.100-.125 and the notice rules of §7011): what they may ask for next, under which
provision, and how to complain. The same text in report.html and report.json; ``for_jurisdiction``
picks it by the request's ``jurisdiction`` (the GDPR's, the most complete, when none is given)."""

from __future__ import annotations

from typing import Final

RIGHTS: Final[list[dict[str, str]]] = [
    {
        "right": "rectification",
        "article": "GDPR Art. 16",
        "text": "You may ask for inaccurate data about you to be corrected and incomplete data completed.",
    },
    {
        "right": "erasure",
        "article": "GDPR Art. 17",
        "text": "You may ask for your data to be deleted, for example when it is no longer needed for its purpose.",
    },
    {
        "right": "restriction",
        "article": "GDPR Art. 18",
        "text": "You may ask that your data is kept but not otherwise used, for example while its accuracy is checked.",
    },
    {
        "right": "portability",
        "article": "GDPR Art. 20",
        "text": "You may receive the data you provided in a machine-readable format (the JSON and CSV files of "
        "this export) and have it sent to another controller.",
    },
    {
        "right": "objection",
        "article": "GDPR Art. 21",
        "text": "You may object to processing based on legitimate interests or a public task, on grounds "
        "relating to your particular situation.",
    },
    {
        "right": "complaint",
        "article": "GDPR Art. 77",
        "text": "You may lodge a complaint with a supervisory authority, in particular in the EU member state "
        "where you live, work or where the alleged infringement took place.",
    },
]

HOW_TO_COMPLAIN: Final[str] = (
    "Write to the controller or its data protection officer first (their contacts are listed for each "
    "resource below, where configured), quoting the request id. You may also complain to a supervisory "
    "authority at any time (GDPR Art. 77), without writing to the controller first; the authority named "
    "for each resource is the controller's lead authority, and the European Data Protection Board lists "
    "every EU authority at https://www.edpb.europa.eu/about-edpb/about-edpb/members_en."
)

CCPA_RIGHTS: Final[list[dict[str, str]]] = [
    {
        "right": "know and access",
        "article": "Cal. Civ. Code §1798.100, §1798.110",
        "text": "You may ask what personal information is collected about you, why, from where and who receives "
        "it, and for a copy of it in a portable, readily usable format (the JSON and CSV files of this export).",
    },
    {
        "right": "deletion",
        "article": "Cal. Civ. Code §1798.105",
        "text": "You may ask for the personal information collected from you to be deleted.",
    },
    {
        "right": "correction",
        "article": "Cal. Civ. Code §1798.106",
        "text": "You may ask for inaccurate personal information about you to be corrected.",
    },
    {
        "right": "opt-out of sale or sharing",
        "article": "Cal. Civ. Code §1798.120",
        "text": "You may tell the business not to sell or share your personal information.",
    },
    {
        "right": "limit sensitive personal information",
        "article": "Cal. Civ. Code §1798.121",
        "text": "You may limit the use of sensitive personal information to what is necessary for the service.",
    },
    {
        "right": "non-discrimination",
        "article": "Cal. Civ. Code §1798.125",
        "text": "You may not be treated differently for exercising these rights.",
    },
]

CCPA_HOW_TO_COMPLAIN: Final[str] = (
    "Write to the business first (its contact is listed for each resource below, where configured), quoting "
    "the request id. You may also file a complaint with the California Privacy Protection Agency "
    "(https://cppa.ca.gov/webapplications/complaint) or the California Attorney General "
    "(https://oag.ca.gov/contact/consumer-complaint-against-business-or-company)."
)

UK_HOW_TO_COMPLAIN: Final[str] = (
    "Write to the controller or its data protection officer first (their contacts are listed for each "
    "resource below, where configured), quoting the request id. You may also complain to the Information "
    "Commissioner's Office (UK GDPR Art. 77; https://ico.org.uk/make-a-complaint/)."
)


def for_jurisdiction(jurisdiction: str | None) -> tuple[list[dict[str, str]], str]:
    """The rights and how to complain under the request's law."""
    if jurisdiction == "ccpa":
        return CCPA_RIGHTS, CCPA_HOW_TO_COMPLAIN
    if jurisdiction == "uk_gdpr":
        uk = [{**right, "article": right["article"].replace("GDPR", "UK GDPR")} for right in RIGHTS]
        return uk, UK_HOW_TO_COMPLAIN
    return RIGHTS, HOW_TO_COMPLAIN
