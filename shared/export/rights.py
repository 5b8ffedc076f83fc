"""The person's rights, as the report states them (GDPR Art. 15(1)(e) and (f)): what they may ask
for next, under which article, and how to complain. The same text in report.html and report.json."""

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
