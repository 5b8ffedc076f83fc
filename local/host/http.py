"""The HTTP side of the host: HTTP-triggered functions under the route prefix, the Durable extension's
HTTP API (``/runtime/webhooks/durabletask/...`` and the worker-facing ``rpcBaseUrl`` ``/durabletask/...``),
and ``/admin/host/status``.

Function keys: ``authLevel`` ``function``/``admin`` endpoints accept any key (or none) locally, as Core
Tools does; nothing is checked.

Request bodies are read as a stream up to ``CVDSR_HOST_MAX_BODY_BYTES`` (default 4 MiB): a larger one is
answered 413 as soon as it passes the limit (at once when its Content-Length says so), so an oversize POST
costs the host no more memory than the limit.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import azure.functions as func
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from .config import DEFAULT_MAX_BODY_BYTES, MAX_BODY_SETTING, mask_secrets
from .durable import DurableEngine
from .history import parse_time
from .invoke import format_exception
from .loader import FunctionInfo

log = logging.getLogger("cvdsr.host")

ALL_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"]


@dataclass
class HttpRoute:
    fn: FunctionInfo
    pattern: re.Pattern[str]
    methods: set[str]
    template: str


_PARAM = re.compile(r"\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::([^}?]+))?(\?)?\}")


def compile_route(template: str) -> re.Pattern[str]:
    """An ASP.NET-style route template (``items/{id}``, ``{id:int?}``, ``{*rest}``) → regex."""
    out = ""
    pos = 0
    template = template.strip("/")
    for match in _PARAM.finditer(template):
        literal = template[pos : match.start()]
        catch_all, name, constraint, optional = match.groups()
        if catch_all:
            piece = f"(?P<{name}>.*)"
        elif constraint and constraint.split("(")[0] in ("int", "long"):
            piece = f"(?P<{name}>-?\\d+)"
        else:
            piece = f"(?P<{name}>[^/]+)"
        if optional or catch_all:
            # An optional last segment also makes its leading slash optional.
            if literal.endswith("/"):
                out += re.escape(literal[:-1]) + f"(?:/{piece})?"
            else:
                out += re.escape(literal) + f"(?:{piece})?"
        else:
            out += re.escape(literal) + piece
        pos = match.end()
    out += re.escape(template[pos:])
    # \Z, not $: "$" also matches before a final newline, so "/requests/R1%0A" would bind "R1".
    return re.compile(f"^{out}/?\\Z", re.IGNORECASE | re.DOTALL)


def client_binding(base_url: str, hub: str, connection: str = "Storage") -> dict[str, Any]:
    """The durableClient binding payload the extension gives the worker (URLs point at this host)."""
    webhook = f"{base_url}/runtime/webhooks/durabletask"
    qs = f"taskHub={quote(hub)}&connection={quote(connection)}"
    instance = f"{webhook}/instances/INSTANCEID"
    return {
        "taskHubName": hub,
        "creationUrls": {
            "createNewInstancePostUri": f"{webhook}/orchestrators/{{functionName}}[/{{instanceId}}]?{qs}",
            "createAndWaitOnNewInstancePostUri": f"{webhook}/orchestrators/{{functionName}}[/{{instanceId}}]"
            f"?timeout={{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}&{qs}",
        },
        "managementUrls": {
            "id": "INSTANCEID",
            "statusQueryGetUri": f"{instance}?{qs}",
            "sendEventPostUri": f"{instance}/raiseEvent/{{eventName}}?{qs}",
            "terminatePostUri": f"{instance}/terminate?reason={{text}}&{qs}",
            "rewindPostUri": f"{instance}/rewind?reason={{text}}&{qs}",
            "purgeHistoryDeleteUri": f"{instance}?{qs}",
            "restartPostUri": f"{instance}/restart?{qs}",
            "suspendPostUri": f"{instance}/suspend?reason={{text}}&{qs}",
            "resumePostUri": f"{instance}/resume?reason={{text}}&{qs}",
        },
        "baseUrl": webhook,
        "requiredQueryStringParameters": qs,
        "rpcBaseUrl": f"{base_url}/durabletask/",
        "httpBaseUrl": "",
    }


def management_payload(base_url: str, hub: str, instance_id: str) -> dict[str, str]:
    urls = dict(client_binding(base_url, hub)["managementUrls"])
    out = {"id": instance_id}
    for key, value in urls.items():
        if key != "id":
            out[key] = value.replace("INSTANCEID", quote(instance_id, safe=""))
    return out


def _bool(params: Any, name: str, default: bool) -> bool:
    value = params.get(name)
    if value is None:
        return default
    return str(value).lower() == "true"


def _seconds(params: Any, name: str) -> float | None:
    value = params.get(name)
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _date(params: Any, name: str) -> dt.datetime | None:
    value = params.get(name)
    if not value:
        return None
    try:
        return parse_time(str(value))
    except ValueError:
        return None


class BodyTooLargeError(Exception):
    """The request body is over the host's limit (answered 413)."""


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, read as a stream and given up as soon as it passes ``limit`` bytes (before reading
    anything when Content-Length is over it): what the function gets is bytes, so the limit bounds memory."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError
        chunks.append(chunk)
    return b"".join(chunks)


class HostHttpApp:
    """ASGI app. ``invoke`` runs an HTTP-triggered function (set by the host)."""

    def __init__(
        self,
        routes: list[HttpRoute],
        route_prefix: str,
        engine: DurableEngine | None,
        hub: str,
        invoke: Callable[[FunctionInfo, dict[str, Any]], Awaitable[Any]],
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self.max_body_bytes = max_body_bytes
        self.routes = routes
        self.route_prefix = route_prefix.strip("/")
        self.engine = engine
        self.hub = hub
        self.invoke = invoke
        self.base_url = ""
        self.ready = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            while message["type"] != "lifespan.shutdown":
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                message = await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        try:
            response = await self.dispatch(request)
        except BodyTooLargeError:
            # The rest of an oversize body is read and dropped by the server, so the client gets this answer.
            log.warning(
                "HTTP %s %s: request body over %d bytes (%s); answered 413",
                request.method,
                request.url.path,
                self.max_body_bytes,
                MAX_BODY_SETTING,
            )
            response = JSONResponse({"error": "request body too large", "limit": self.max_body_bytes}, 413)
        except Exception as exc:
            text, _ = format_exception(exc)
            log.error("HTTP %s %s failed: %s", request.method, request.url.path, text)
            response = JSONResponse({"Message": "Something went wrong while processing your request"}, 500)
        await response(scope, receive, send)

    async def dispatch(self, request: Request) -> Response:
        # The decoded path as the server received it. ``request.url.path`` goes through urlsplit, which
        # silently drops tabs and newlines ("R1%0A" would become "R1"): the Functions host does not.
        path: str = request.scope["path"]
        if path.rstrip("/") == "/admin/host/status":
            return JSONResponse({"state": "Running" if self.ready else "Initialized"}, 200 if self.ready else 503)
        for base in ("/runtime/webhooks/durabletask/", "/durabletask/"):
            if path.startswith(base) and self.engine is not None:
                return await self.durable_api(request, path[len(base) :])
        prefix = f"/{self.route_prefix}/" if self.route_prefix else "/"
        if path.startswith(prefix) or (self.route_prefix and path == f"/{self.route_prefix}"):
            sub = path[len(prefix) :] if path.startswith(prefix) else ""
            for route in self.routes:
                match = route.pattern.match(sub)
                if match and request.method.upper() in route.methods:
                    return await self.call_function(
                        route, request, {k: v for k, v in match.groupdict().items() if v is not None}
                    )
        return Response(status_code=404)

    # --- HTTP-triggered functions ---------------------------------------------------------------
    async def call_function(self, route: HttpRoute, request: Request, route_params: dict[str, str]) -> Response:
        body = await read_body(request, self.max_body_bytes)
        req = func.HttpRequest(
            method=request.method.upper(),
            url=str(request.url),
            headers=dict(request.headers),
            params=dict(request.query_params),
            route_params=route_params,
            body=body,
        )
        try:
            result = await self.invoke(route.fn, {route.fn.trigger_name: req})
        except Exception:
            return Response(status_code=500)
        return to_starlette(result)

    # --- the Durable extension's HTTP API -----------------------------------------------------
    async def durable_api(self, request: Request, rest: str) -> Response:
        assert self.engine is not None
        engine = self.engine
        method = request.method.upper()
        parts = [unquote(p) for p in rest.split("/") if p != ""]
        params = request.query_params
        if parts and parts[0] == "orchestrators" and len(parts) in (2, 3):
            if method != "POST":
                return Response(status_code=404)
            raw = (await read_body(request, self.max_body_bytes)).decode("utf-8")
            input_json: str | None = raw if raw.strip() else None
            if input_json is not None:
                try:
                    json.loads(input_json)
                except ValueError:
                    return JSONResponse({"Message": "Invalid JSON content"}, 400)
            status, result = await engine.start_new(parts[1], parts[2] if len(parts) == 3 else None, input_json)
            if status != 202:
                return JSONResponse(result, status)
            timeout, interval = _seconds(params, "timeout"), _seconds(params, "pollingInterval")
            if timeout is not None and interval is not None:
                return await self.wait_or_check_status(request, str(result), timeout, interval)
            return self.check_status_response(request, str(result))
        if parts and parts[0] == "instances":
            if len(parts) == 1:
                filters = {
                    "created_from": _date(params, "createdTimeFrom"),
                    "created_to": _date(params, "createdTimeTo"),
                    "statuses": set(",".join(params.getlist("runtimeStatus")).split(",")) - {""} or None,
                    "prefix": params.get("instanceIdPrefix"),
                }
                if method == "GET":
                    items = await engine.list_status(show_input=_bool(params, "showInput", False), **filters)
                    return JSONResponse(items, 200)
                if method == "DELETE":
                    if filters["created_from"] is None:
                        return JSONResponse("Please provide value for 'createdTimeFrom' parameter.", 400)
                    status, result = await engine.purge_by(**filters)
                    return JSONResponse(result, status) if result is not None else Response(status_code=status)
                return Response(status_code=404)
            instance_id = parts[1]
            if len(parts) == 2:
                if method == "GET":
                    payload = await engine.get_status(
                        instance_id,
                        show_input=_bool(params, "showInput", True),
                        show_history=_bool(params, "showHistory", False),
                        show_output=_bool(params, "showHistoryOutput", False),
                    )
                    if payload is None:
                        return Response(status_code=404)
                    status_value = payload["runtimeStatus"]
                    if status_value in ("Running", "Pending", "ContinuedAsNew", "Suspended"):
                        return JSONResponse(payload, 202, headers={"Location": str(request.url), "Retry-After": "5"})
                    if status_value == "Failed" and _bool(params, "returnInternalServerErrorOnFailure", False):
                        return JSONResponse(payload, 500)
                    return JSONResponse(payload, 200)
                if method == "DELETE":
                    status, result = await engine.purge(instance_id)
                    if result is None:
                        return Response(status_code=status)
                    return JSONResponse(result, status)
                return Response(status_code=404)
            operation = parts[2].lower()
            if method == "POST" and operation == "raiseevent" and len(parts) == 4:
                content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
                rec = await engine.store.get_instance(instance_id)
                if rec is None:
                    return Response(status_code=404)
                if content_type != "application/json":
                    return JSONResponse({"Message": "Only application/json request content is supported"}, 400)
                raw = (await read_body(request, self.max_body_bytes)).decode("utf-8")
                try:
                    value = json.loads(raw) if raw.strip() else None
                except ValueError:
                    return JSONResponse({"Message": "Invalid JSON content"}, 400)
                # The extension re-serializes the parsed JSON token as the EventRaised input.
                status = await engine.raise_event(instance_id, parts[3], json.dumps(value))
                return Response(status_code=status)
            if method == "POST" and operation == "terminate" and len(parts) == 3:
                status = await engine.terminate(instance_id, params.get("reason"))
                return Response(status_code=status)
            if method == "POST" and operation in ("rewind", "suspend", "resume", "restart"):
                return JSONResponse({"Message": f"'{operation}' is not supported by the development host"}, 501)
        return Response(status_code=404)

    async def wait_or_check_status(
        self, request: Request, instance_id: str, wait_seconds: float, interval: float
    ) -> Response:
        """``createAndWaitOnNewInstancePostUri``: the output when the instance completes within ``wait_seconds``."""
        import asyncio

        assert self.engine is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        while True:
            payload = await self.engine.get_status(instance_id)
            if payload is not None and payload["runtimeStatus"] == "Completed":
                return JSONResponse(payload["output"], 200)
            if payload is not None and payload["runtimeStatus"] in ("Failed", "Terminated", "Canceled"):
                return JSONResponse(payload, 200)
            remaining = deadline - loop.time()
            if remaining <= 0:
                return self.check_status_response(request, instance_id)
            await asyncio.sleep(min(max(interval, 0.05), remaining))

    def check_status_response(self, request: Request, instance_id: str) -> Response:
        origin = f"{request.url.scheme}://{request.url.netloc}"
        payload = management_payload(origin, self.hub, instance_id)
        return JSONResponse(payload, 202, headers={"Location": payload["statusQueryGetUri"], "Retry-After": "10"})


def to_starlette(result: Any) -> Response:
    """An HTTP function's return value → response (HttpResponse, str/bytes, None)."""
    if isinstance(result, func.HttpResponse):
        headers = {k: v for k, v in result.headers.items()}
        media = None
        if not any(k.lower() == "content-type" for k in headers) and result.mimetype:
            media = result.mimetype
            if result.charset and media.startswith("text/"):
                media = f"{media}; charset={result.charset}"
        return Response(result.get_body(), status_code=result.status_code, headers=headers, media_type=media)
    if result is None:
        return Response(status_code=204)
    if isinstance(result, bytes):
        return Response(result, 200, media_type="application/octet-stream")
    if isinstance(result, str):
        return Response(result, 200, media_type="text/plain; charset=utf-8")
    return JSONResponse(result, 200)


def build_routes(functions: list[FunctionInfo]) -> list[HttpRoute]:
    routes: list[HttpRoute] = []
    for fn in functions:
        template = str(fn.trigger.get("route") or fn.name)
        methods = fn.trigger.get("methods") or ALL_METHODS
        routes.append(
            HttpRoute(fn=fn, pattern=compile_route(template), methods={m.upper() for m in methods}, template=template)
        )
    # Literal routes win over parameterized ones, as in ASP.NET routing.
    routes.sort(key=lambda r: (r.template.count("{"), -len(r.template)))
    return routes


def describe(routes: list[HttpRoute], base_url: str, prefix: str) -> list[str]:
    lines = []
    for r in routes:
        path = f"{base_url}/{prefix}/{r.template}" if prefix else f"{base_url}/{r.template}"
        lines.append(f"{r.fn.name}: [{','.join(sorted(r.methods))}] {mask_secrets(path)}")
    return lines
