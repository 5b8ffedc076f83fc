"""Operation declarations: operationId, method, path, accepted query parameters, handler.

Each API module keeps an `OperationRegistry`; the app mounts every registered operation under each
served API version. The declarations double as the simulator's machine-readable surface, which the
fidelity tests compare with the Swagger (paths, methods, query parameter names).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from local.simulator.errors import ApiError
from local.simulator.identifiers import canonical_uuid
from local.simulator.params import QueryReader
from local.simulator.state import ProjectState, Simulator
from local.simulator.wire import UriFactory

ApiName = Literal["training", "prediction"]
Handler = Callable[["OperationCall"], Awaitable[Response]]

#: Largest JSON body accepted (a 64-image CreateImagesFromFiles batch of 6 MB images, base64-encoded).
MAX_JSON_BODY_BYTES = 64 * 6 * 1024 * 1024 * 4 // 3 + 1024 * 1024


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    query: tuple[str, ...]
    handler: Handler
    api: ApiName


class OperationRegistry:
    """An ordered collection of operations, filled with the `operation` decorator."""

    def __init__(self, api: ApiName = "training") -> None:
        self._api = api
        self._operations: list[Operation] = []

    def operation(
        self, operation_id: str, method: str, path: str, *, query: tuple[str, ...] = ()
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self._operations.append(Operation(operation_id, method, path, query, handler, self._api))
            return handler

        return register

    def __iter__(self) -> Iterator[Operation]:
        return iter(self._operations)


class OperationCall:
    """One invocation of an operation: the request plus typed helpers for handlers."""

    def __init__(self, request: Request, simulator: Simulator, operation: Operation) -> None:
        self.request = request
        self.simulator = simulator
        self.operation = operation
        self.query = QueryReader(request.query_params, operation.query)

    def path_uuid(self, name: str, kind: str) -> str:
        raw = str(self.request.path_params[name])
        canonical = canonical_uuid(raw)
        if canonical is None:
            raise ApiError("BadRequestInvalidIds", f"'{raw}' is not a valid {kind} id.")
        return canonical

    def path_string(self, name: str) -> str:
        return str(self.request.path_params[name])

    def project(self) -> ProjectState:
        return self.simulator.project(self.path_string("projectId"))

    @property
    def base_url(self) -> str:
        return str(self.request.base_url).rstrip("/")

    def uris(self) -> UriFactory:
        return UriFactory(self.simulator.signer, self.base_url, self.simulator.now())

    async def body(self, limit: int = MAX_JSON_BODY_BYTES) -> bytes:
        declared = self.request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise ApiError("BadRequestImageSizeBytes", f"The request body is larger than {limit} bytes.")
        body = await self.request.body()
        if len(body) > limit:
            raise ApiError("BadRequestImageSizeBytes", f"The request body is larger than {limit} bytes.")
        return body

    async def json_body(self, *, required: bool = True) -> Any:
        raw = await self.body()
        if not raw.strip():
            if required:
                raise ApiError("BadRequestRequiredParamIsNull", "The request body is required.")
            return None
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ApiError("BadRequest", f"The request body is not valid JSON: {error}.") from None

    async def json_object(self, *, required: bool = True) -> dict[str, Any]:
        body = await self.json_body(required=required)
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise ApiError("BadRequest", "The request body must be a JSON object.")
        return body


def json_response(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status)


def no_content(status: int = 204) -> Response:
    return Response(status_code=status)
