"""``report.html`` and ``report.json``: the export explained to the data subject (GDPR Art. 15:
intelligible form), with each resource's Art. 15 information (``shared.privacy_info``) and the
person's rights (``shared.export.rights``); report.json holds the same for programs.

Self-contained (inline CSS, no scripts, no external requests), accessible (landmarks, one heading
outline, table headers with scope, AA contrast) and printable on A4 (long ids wrap, tables fit the
page); tests/e2e/test_report.py and tests/export/test_report_browser.py check it in headless Chromium
with axe-core. Every value from the account is HTML-escaped. Links are relative to the request
folder, so they work in the downloaded folder and in export.zip. Images are linked, not listed
exhaustively: a large project links its ``images.jsonl`` and shows the first few files.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from html import escape
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from shared.catalogue import Count
from shared.privacy_info import FIELDS, NOT_CONFIGURED, PrivacyInfo, statement
from shared.results import layout
from shared.results.store import ResultStore, StoredFile

from . import rights

IMAGE_PREVIEW = 24

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:60rem;color:#1b1b1b;
background:#fff;line-height:1.45;padding:0 1rem;overflow-wrap:anywhere}h1{font-size:1.6rem}
h2{margin-top:2rem;border-bottom:1px solid #767676}
table{border-collapse:collapse;margin:.5rem 0;max-width:100%;table-layout:auto}
td,th{border:1px solid #767676;padding:.25rem .5rem;text-align:left;vertical-align:top;overflow-wrap:anywhere;
word-break:break-word}th[scope=row]{width:14rem}code,a{overflow-wrap:anywhere;word-break:break-all}
a{color:#0b57d0}.muted{color:#575757}.warn{color:#7a4100}.grid{display:flex;flex-wrap:wrap;gap:.5rem}
.grid img{width:96px;height:96px;object-fit:cover;border:1px solid #767676}
@page{size:A4;margin:15mm}
@media print{body{margin:0;max-width:none;padding:0;font-size:10pt}h2{break-after:avoid}
tr{break-inside:avoid}.grid img{width:64px;height:64px}table{width:100%}}
"""


DATASET_NAMES = {
    "coco": "COCO",
    "azureml": "Azure Machine Learning (JSONL and MLTable)",
    "csv": "CSV (one row per image)",
}


async def _read(store: ResultStore, path: str) -> Any:
    try:
        return await store.read_json(path)
    except ResourceNotFoundError:
        return None


def _table(rows: list[tuple[str, Any]], caption: str) -> str:
    body = "".join(f"<tr><th scope='row'>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in rows)
    return f"<table><caption class='muted'>{escape(caption)}</caption>{body}</table>"


def _head(*columns: str) -> str:
    return "<tr>" + "".join(f"<th scope='col'>{escape(column)}</th>" for column in columns) + "</tr>"


def in_catalogue_order(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    """Counters in the catalogue's order (how a reader meets the data), any other after them."""
    order: dict[str, int] = {counter: index for index, counter in enumerate(Count)}
    return sorted(counts.items(), key=lambda item: (order.get(item[0], len(order)), item[0]))


async def write_report(
    store: ResultStore,
    request: Mapping[str, Any],
    *,
    status: str,
    projects: list[dict[str, Any]],
    counts: Mapping[str, int],
    errors: list[dict[str, Any]],
    privacy: Mapping[str, PrivacyInfo | None],
) -> StoredFile:
    """``projects`` holds each exported project's id and iteration ids (what the orchestrator knows);
    ``privacy`` each resource's Art. 15 information (None: not configured)."""
    request_id = request["request_id"]
    prefix = f"{request_id}/"
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>Your Custom Vision data: request {escape(request_id)}</title><style>{_STYLE}</style></head><body>",
        f"<header><h1>Your data in Azure Custom Vision</h1><p>Request <b>{escape(request_id)}</b> ",
        f"({escape(str(request.get('type')))}), status <b>{escape(status)}</b>, prepared "
        f"{escape(datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC'))}.</p>",
        "<p>This folder holds a copy of the data that the Custom Vision service stores about the projects in "
        "scope: the projects, their tags, the trained model versions (iterations) and how well they performed, "
        "the training images with their tags and regions, exported models, and the images sent for prediction "
        "in the last 30 days. Machine-readable files (JSON) sit next to this page; "
        "<code>manifest.json</code> lists every file with its SHA-256 digest, and <code>report.json</code> "
        "holds this page's information for programs. The image and prediction listings are also "
        "spreadsheets (<code>images.csv</code>, <code>predictions.csv</code>).</p></header><main>",
        "<section aria-labelledby='summary'><h2 id='summary'>Summary</h2>",
        _table([(counter.replace("_", " "), count) for counter, count in in_catalogue_order(counts)], "Items exported"),
        "</section>",
    ]
    if errors:
        parts.append(
            "<section aria-labelledby='errors'><h2 id='errors' class='warn'>What could not be exported</h2><ul>"
        )
        parts.extend(f"<li>{escape(json.dumps(error, sort_keys=True))}</li>" for error in errors[:200])
        parts.append("</ul></section>")
    parts.append(_privacy_sections(privacy))
    parts.append(_rights_section(request.get("jurisdiction")))
    for summary in projects:
        parts.append(await _project_section(store, request_id, prefix, summary))
    parts.append("</main><footer><p class='muted'>Generated by cvdsr.</p></footer></body></html>")
    return await store.put_bytes(layout.report(request_id), "".join(parts).encode(), "text/html; charset=utf-8")


def _rel(path: str, prefix: str) -> str:
    return escape(path.removeprefix(prefix), quote=True)


async def _project_section(store: ResultStore, request_id: str, prefix: str, summary: Mapping[str, Any]) -> str:
    project_id = summary["project_id"]
    project = await _read(store, layout.project_file(request_id, project_id, "project.json")) or {"id": project_id}
    tags = await _read(store, layout.project_file(request_id, project_id, "tags.json")) or []
    name = escape(str(project.get("name") or project_id))
    out = [
        f"<section aria-label='Project {name}'><h2>Project {name}</h2>",
        _table(
            [
                ("id", project_id),
                ("description", project.get("description") or ""),
                ("created", project.get("created") or ""),
                ("resource", summary.get("resource", "")),
            ],
            "The project",
        ),
    ]
    if tags:
        out.append("<h3>Tags</h3><table>" + _head("name", "type", "images"))
        out.extend(
            f"<tr><td>{escape(str(t.get('name')))}</td><td>{escape(str(t.get('type')))}</td>"
            f"<td>{escape(str(t.get('imageCount')))}</td></tr>"
            for t in tags
        )
        out.append("</table>")
    iterations = summary.get("iterations") or []
    if iterations:
        out.append("<h3>Iterations (trained model versions)</h3><table>")
        out.append(_head("name", "status", "published as", "precision", "recall"))
        for entry in iterations:
            iteration_id = entry["id"]
            detail = await _read(store, layout.iteration_file(request_id, project_id, iteration_id, "iteration.json"))
            perf = await _read(store, layout.iteration_file(request_id, project_id, iteration_id, "performance.json"))
            detail, perf = detail or {}, perf or {}
            out.append(
                f"<tr><td>{escape(str(detail.get('name', iteration_id)))}</td>"
                f"<td>{escape(str(detail.get('status', '')))}</td>"
                f"<td>{escape(str(detail.get('publishName') or '-'))}</td>"
                f"<td>{escape(_pct(perf.get('precision')))}</td><td>{escape(_pct(perf.get('recall')))}</td></tr>"
            )
        out.append("</table>")
    images_path = layout.project_file(request_id, project_id, "images.jsonl")
    if await store.exists(images_path):
        out.append(f"<h3>Training images</h3><p>All image records: <a href='{_rel(images_path, prefix)}'>")
        out.append(f"{_rel(images_path, prefix)}</a>. Some of the image files:</p><div class='grid'>")
        shown = 0
        async for stored in store.list_files(layout.project_dir(request_id, project_id) + "/images/"):
            if shown >= IMAGE_PREVIEW:
                break
            if stored.content_type.startswith("image/"):
                shown += 1
                label = escape(f"Image {stored.path.rsplit('/', 1)[-1]}", quote=True)
                out.append(
                    f"<a href='{_rel(stored.path, prefix)}'><img src='{_rel(stored.path, prefix)}' alt='{label}'></a>"
                )
        out.append("</div>")
    datasets = summary.get("datasets") or []
    if datasets:
        out.append("<h3>Datasets for other tools</h3><p>The same images and their labels, in formats that")
        out.append(" other training tools load as they are:</p><ul>")
        out.extend(
            f"<li>{escape(DATASET_NAMES.get(entry['format'], entry['format']))}: "
            f"<a href='{_rel(entry['path'], prefix)}'>{_rel(entry['path'], prefix)}</a></li>"
            for entry in datasets
        )
        out.append("</ul>")
    predictions_path = layout.project_file(request_id, project_id, "predictions.jsonl")
    if await store.exists(predictions_path):
        out.append(
            f"<h3>Images sent for prediction</h3><p><a href='{_rel(predictions_path, prefix)}'>"
            f"{_rel(predictions_path, prefix)}</a></p>"
        )
    out.append("</section>")
    return "".join(out)


def _pct(value: Any) -> str:
    return f"{value * 100:.1f}%" if isinstance(value, int | float) else "-"


def _privacy_sections(privacy: Mapping[str, PrivacyInfo | None]) -> str:
    """One section per resource: each Art. 15 field as configured, or "not configured"."""
    out = []
    for resource, info in sorted(privacy.items()):
        anchor = escape(f"privacy-{resource}", quote=True)
        out.append(
            f"<section aria-labelledby='{anchor}'><h2 id='{anchor}'>How your data is processed "
            f"(resource {escape(resource)})</h2><table><caption class='muted'>The controller's information "
            "(GDPR Art. 15(1) and (2))</caption>"
        )
        for name, value in statement(info).items():
            cell = f"<td class='warn'>{NOT_CONFIGURED}</td>" if value == NOT_CONFIGURED else f"<td>{_value(value)}</td>"
            out.append(f"<tr><th scope='row'>{escape(FIELDS[name])}</th>{cell}</tr>")
        out.append("</table></section>")
    return "".join(out)


def _value(value: Any) -> str:
    """A configured value, readable: objects as "key: value" lines, lists one item per line."""
    if isinstance(value, list):
        return "<ul>" + "".join(f"<li>{_value(item)}</li>" for item in value) + "</ul>"
    if isinstance(value, dict):
        return "<br>".join(f"{escape(key.replace('_', ' '))}: {_value(item)}" for key, item in value.items())
    if isinstance(value, bool):
        return "yes" if value else "no"
    return escape(str(value))


def _rights_section(jurisdiction: str | None) -> str:
    listed, how_to_complain = rights.for_jurisdiction(jurisdiction)
    rows = "".join(
        f"<tr><th scope='row'>{escape(right['right'])}</th><td>{escape(right['article'])}</td>"
        f"<td>{escape(right['text'])}</td></tr>"
        for right in listed
    )
    return (
        "<section aria-labelledby='rights'><h2 id='rights'>Your rights</h2>"
        f"<table><caption class='muted'>What you may ask for next</caption>{_head('right', 'article', 'what it means')}"
        f"{rows}</table><h3>How to complain</h3><p>{escape(how_to_complain)}</p></section>"
    )


def report_document(
    request: Mapping[str, Any],
    *,
    status: str,
    resources: list[dict[str, Any]],
    counts: Mapping[str, int],
    privacy: Mapping[str, PrivacyInfo | None],
) -> dict[str, Any]:
    """What ``report.json`` holds: the report's content without its layout; ``privacy`` names the
    request's resources."""
    listed, how_to_complain = rights.for_jurisdiction(request.get("jurisdiction"))
    return {
        "report_version": 1,
        "request_id": request["request_id"],
        "type": request.get("type"),
        "status": status,
        "counts": dict(in_catalogue_order(counts)),
        "resources": [
            {
                "resource": name,
                "projects": [p for resource in resources if resource["resource"] == name for p in resource["projects"]],
                "privacy_information": statement(info),
            }
            for name, info in privacy.items()
        ],
        "jurisdiction": request.get("jurisdiction"),
        "rights": listed,
        "how_to_complain": how_to_complain,
        "files": {"manifest": "manifest.json", "report": "report.html"},
    }


async def write_report_json(store: ResultStore, request: Mapping[str, Any], document: Mapping[str, Any]) -> StoredFile:
    return await store.put_json(layout.report_json(request["request_id"]), document)
