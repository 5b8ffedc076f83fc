"""The ASGI application: routes for every API the simulator serves, wrapped in the request log.

Paths:
* `/customvision/v3.3/training/…` and `/customvision/v3.4-preview/training/…`: the Training API;
* `/customvision/v3.1/prediction/…`: the Prediction API (classify/detect);
* `/_blobs/…`: downloads behind signed image/export URIs;
* `/_arm/…`: the account resource (ARM);
* `/_simulator/…`: introspection and control.

Unknown routes get the gateway's 404 `{"error": {"code": "404", "message": "Resource not found"}}`.
"""

from __future__ import annotations

import re

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from local.simulator.admin import admin_routes
from local.simulator.arm import arm_routes
from local.simulator.blobs import blob_routes
from local.simulator.clock import Clock
from local.simulator.config import SimulatorConfig
from local.simulator.errors import gateway_response
from local.simulator.operations import Operation
from local.simulator.pipeline import endpoint_for
from local.simulator.prediction_api import PREDICTION_VERSIONS
from local.simulator.prediction_api import operations as prediction_operations
from local.simulator.request_log import RequestLogMiddleware
from local.simulator.seeding import apply_seed
from local.simulator.state import Simulator
from local.simulator.training import TRAINING_OPERATIONS, TRAINING_VERSIONS


class SimulatorApp(Starlette):
    """Starlette with the request log outermost, so it sees every response and every dropped connection."""

    def __init__(self, simulator: Simulator, routes: list[BaseRoute]) -> None:
        super().__init__(
            routes=routes,
            exception_handlers={404: _route_not_found, 405: _route_not_found, Exception: _unexpected_error},
        )
        self.simulator = simulator
        self.state.simulator = simulator

    def build_middleware_stack(self) -> ASGIApp:
        logged = RequestLogMiddleware(
            super().build_middleware_stack(), self.simulator.request_log, self.simulator.clock
        )
        return _collapse_slashes(logged)


def _collapse_slashes(app: ASGIApp) -> ASGIApp:
    """Treat `//` as `/`, as the service does: SDKs given an endpoint ending in `/` produce `…//customvision/…`."""

    async def normalised(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "//" in scope["path"]:
            path = re.sub("/{2,}", "/", scope["path"])
            scope = {**scope, "path": path, "raw_path": path.encode()}
        await app(scope, receive, send)

    return normalised


async def _route_not_found(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return gateway_response(404, "Resource not found")


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    """A simulator bug still answers in the service's shape (uvicorn logs the traceback)."""
    return JSONResponse({"code": "ErrorUnknown", "message": f"Simulator error: {type(exc).__name__}."}, 500)


def _api_mount(prefix: str, operations: tuple[Operation, ...], simulator: Simulator, version: str) -> Mount:
    routes = [
        Route(op.path, endpoint_for(op, simulator, version.removeprefix("v")), methods=[op.method]) for op in operations
    ]
    return Mount(prefix, routes=routes)


def create_app(config: SimulatorConfig | None = None, *, clock: Clock | None = None) -> Starlette:
    """Build a simulator app; its `Simulator` is `app.state.simulator`. `clock` is for tests."""
    config = config or SimulatorConfig()
    simulator = Simulator(config, clock)
    apply_seed(simulator, config.seed_spec)
    routes: list[BaseRoute] = []
    for version in TRAINING_VERSIONS:
        routes.append(_api_mount(f"/customvision/{version}/training", TRAINING_OPERATIONS, simulator, version))
    for version in PREDICTION_VERSIONS:
        routes.append(
            _api_mount(f"/customvision/{version}/prediction", tuple(prediction_operations), simulator, version)
        )
    routes.extend(blob_routes(simulator))
    routes.extend(arm_routes(simulator))
    routes.extend(admin_routes(simulator))
    return SimulatorApp(simulator, routes)
