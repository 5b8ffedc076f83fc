"""``cvdsr register export --from DATE --to DATE [--csv]``: the request register (``GET /api/requests``).

Without ``--csv`` it prints the API's JSON. With ``--csv`` the records go to stdout as CSV (the columns
of ``shared.register.FIELDS``) and the median time to respond per request type to stderr, one line per
type (``median days to respond: erase 0.02 (3 requests)``), so that stdout stays a clean CSV file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import httpx

from shared.register import median_days_to_respond, to_csv

from .requests_cli import DEFAULT_HOST_URL, refusal


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = actions.add_parser("export", help="the records of the requests received in a range of days")
    export.add_argument("--from", dest="start", required=True, metavar="YYYY-MM-DD", help="first day (UTC)")
    export.add_argument("--to", dest="end", required=True, metavar="YYYY-MM-DD", help="last day (UTC), included")
    export.add_argument("--csv", action="store_true", help="CSV on stdout, the median time to respond on stderr")
    export.add_argument("--host-url", default=DEFAULT_HOST_URL, help=f"the host (default {DEFAULT_HOST_URL})")


def run_from_args(args: argparse.Namespace) -> int:
    key = os.environ.get("CVDSR_FUNCTION_KEY")
    headers = {"x-functions-key": key} if key else {}
    try:
        response = httpx.get(
            f"{args.host_url.rstrip('/')}/api/requests",
            params={"from": args.start, "to": args.end},
            headers=headers,
            timeout=60,
        )
    except httpx.HTTPError as error:
        print(f"the host did not answer: {type(error).__name__}", file=sys.stderr)
        return 1
    if response.status_code != 200:
        print(f"register export refused ({response.status_code}): {refusal(response)}", file=sys.stderr)
        return 1
    document = response.json()
    if not args.csv:
        print(json.dumps(document, indent=2))
        return 0
    records = document["records"]
    sys.stdout.write(to_csv(records))
    medians = median_days_to_respond(records)
    summary = ", ".join(f"{kind} {days:.2f} ({count} requests)" for kind, (days, count) in medians.items())
    print(f"median days to respond: {summary or 'no answered request'}", file=sys.stderr)
    return 0
