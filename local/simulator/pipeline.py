"""The gateway in front of every Training/Prediction operation, in the order the real one applies it.

1. key check (`Training-Key` / `Prediction-Key`, any header case) → 401 gateway body;
2. the per-key token bucket → 429 gateway body with `Retry-After`;
3. latency (configured, with deterministic jitter);
4. injected faults (faults.py) → 500 CustomVisionError / 503 gateway body before the operation, or a
   dropped connection after it;
5. the operation; `ApiError` becomes a CustomVisionError with the mapped status.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from local.simulator.errors import INVALID_KEY_MESSAGE, ApiError, DroppedConnection, gateway_response
from local.simulator.operations import Operation, OperationCall
from local.simulator.request_log import context_of
from local.simulator.state import Simulator

Endpoint = Callable[[Request], Awaitable[Response]]

_KEY_HEADERS = {"training": "Training-Key", "prediction": "Prediction-Key"}
_SERVICE_NAMES = {"training": "Custom Vision Training", "prediction": "Custom Vision Prediction"}


def key_matches(presented: str | None, expected: str) -> bool:
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())


def key_identity(key: str) -> str:
    """A stable, non-reversible name for a key (the throttle's bucket id)."""
    return hashlib.sha256(b"cvdsr-simulator-bucket:" + key.encode()).hexdigest()[:16]


def throttled_message(operation_id: str, service: str, retry_after: int) -> str:
    unit = "second" if retry_after == 1 else "seconds"
    return (
        f"Requests to the {operation_id} Operation under {service} have exceeded rate limit of your current "
        f"S0 pricing tier. Please retry after {retry_after} {unit}. Please contact Azure support service if "
        "you would like to further increase the default rate limit."
    )


def expected_key(simulator: Simulator, operation: Operation) -> str:
    if operation.api == "prediction":
        return simulator.config.effective_prediction_key
    return simulator.config.training_key


def endpoint_for(operation: Operation, simulator: Simulator, api_version: str) -> Endpoint:
    """Wrap an operation's handler in the gateway behaviour described in the module docstring."""
    service = f"{_SERVICE_NAMES[operation.api]} {api_version}"

    async def endpoint(request: Request) -> Response:
        context = context_of(request.scope)
        context.api = operation.api
        context.operation = operation.operation_id
        simulator.settle()

        presented = request.headers.get(_KEY_HEADERS[operation.api])
        expected = expected_key(simulator, operation)
        context.key_ok = key_matches(presented, expected) and simulator.is_active()
        if not context.key_ok:
            return gateway_response(401, INVALID_KEY_MESSAGE)

        retry_after = simulator.throttle.acquire(key_identity(expected), simulator.clock.monotonic())
        if retry_after is not None:
            context.fault = "throttled"
            return gateway_response(
                429,
                throttled_message(operation.operation_id, service, retry_after),
                {"Retry-After": str(retry_after)},
            )

        settings = simulator.settings
        delay = simulator.faults.latency_seconds(settings.latency_ms)
        fault = simulator.faults.draw(settings.fault_rate)
        if delay:
            await asyncio.sleep(delay)
        if fault == "500":
            context.fault = fault
            return JSONResponse(
                {"code": "ErrorUnknown", "message": "An unexpected error occurred (injected by the simulator)."},
                500,
            )
        if fault == "503":
            context.fault = fault
            return gateway_response(503, "Service Unavailable (injected by the simulator).")

        call = OperationCall(request, simulator, operation)
        try:
            response = await operation.handler(call)
        except ApiError as error:
            response = JSONResponse(error.body(), simulator.errors.status_of(error.code))
        if fault == "drop":
            context.fault = fault
            raise DroppedConnection(operation.operation_id)
        return response

    return endpoint
