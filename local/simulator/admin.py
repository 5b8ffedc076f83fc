"""Introspection and control under `/_simulator/` (needs the training key, like the API).

* `GET /_simulator/requests`: the request log, oldest first (never keys); `DELETE` clears it.
* `GET|PATCH /_simulator/config`: the runtime knobs `tps`, `burst`, `latency_ms`, `fault_rate`
  (PATCH with a JSON object of the ones to change; `tps: null` removes the limit).
* `GET /_simulator/summary`: counts per project (images, tagged, untagged, predictions, iterations,
  published, …) and pending background jobs.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from local.simulator.config import validate_fault_rate, validate_latency, validate_rate
from local.simulator.errors import INVALID_KEY_MESSAGE, gateway_response
from local.simulator.pipeline import key_matches
from local.simulator.request_log import context_of
from local.simulator.state import Simulator

_SETTINGS = ("tps", "burst", "latency_ms", "fault_rate")


def _bad_request(message: str) -> JSONResponse:
    return JSONResponse({"code": "BadRequest", "message": message}, 400)


def _number(value: Any, name: str, *, nullable: bool) -> float | None:
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"'{name}' must be a number{' or null' if nullable else ''}")
    return float(value)


def admin_routes(simulator: Simulator) -> list[Route]:
    def authorise(request: Request) -> Response | None:
        context = context_of(request.scope)
        context.api = "admin"
        context.key_ok = key_matches(request.headers.get("Training-Key"), simulator.config.training_key)
        return None if context.key_ok else gateway_response(401, INVALID_KEY_MESSAGE)

    async def requests(request: Request) -> Response:
        denied = authorise(request)
        if denied:
            return denied
        if request.method == "DELETE":
            simulator.request_log.clear()
            return Response(status_code=204)
        return JSONResponse([entry.as_json() for entry in simulator.request_log.entries()])

    async def config(request: Request) -> Response:
        denied = authorise(request)
        if denied:
            return denied
        if request.method == "PATCH":
            try:
                body = json.loads(await request.body())
            except (json.JSONDecodeError, UnicodeDecodeError):
                return _bad_request("The body must be a JSON object.")
            if not isinstance(body, dict):
                return _bad_request("The body must be a JSON object.")
            unknown = sorted(set(body) - set(_SETTINGS))
            if unknown:
                return _bad_request(f"Unknown settings: {', '.join(unknown)}; allowed: {', '.join(_SETTINGS)}.")
            current = simulator.settings
            try:
                tps = _number(body["tps"], "tps", nullable=True) if "tps" in body else current.tps
                burst_raw = body.get("burst", current.burst)
                if burst_raw is not None and (isinstance(burst_raw, bool) or not isinstance(burst_raw, int)):
                    raise ValueError("'burst' must be an integer or null")
                latency = _number(body.get("latency_ms", current.latency_ms), "latency_ms", nullable=False)
                fault_rate = _number(body.get("fault_rate", current.fault_rate), "fault_rate", nullable=False)
                assert latency is not None
                assert fault_rate is not None
                validate_rate(tps, burst_raw)
                validate_latency(latency)
                validate_fault_rate(fault_rate)
            except ValueError as error:
                return _bad_request(str(error))
            simulator.update_settings(tps=tps, burst=burst_raw, latency_ms=latency, fault_rate=fault_rate)
        return JSONResponse(simulator.settings.as_json())

    async def summary(request: Request) -> Response:
        denied = authorise(request)
        if denied:
            return denied
        return JSONResponse(simulator.summary())

    return [
        Route("/_simulator/requests", requests, methods=["GET", "DELETE"]),
        Route("/_simulator/config", config, methods=["GET", "PATCH"]),
        Route("/_simulator/summary", summary, methods=["GET"]),
    ]
