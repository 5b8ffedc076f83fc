"""Error shapes of the simulated service.

Two shapes exist on the real service and both are reproduced:

* `CustomVisionError` `{"code": ..., "message": ...}`: what the Training/Prediction API itself returns
  (the Swagger's `default` response). The spec maps no code to an HTTP status; the mapping below is the
  inference from the code names documented in training-api-notes.md §4 and can be overridden per code.
* The API gateway's `{"error": {"code": "401", "message": ...}}`: bad keys, throttling (429), gateway
  faults (503) and unknown routes. SDKs deserialise it with `code=None`, which clients must survive.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import JSONResponse

#: Prefix → HTTP status, checked in order (longest prefixes first where they overlap).
_PREFIX_STATUS: tuple[tuple[str, int], ...] = (
    ("UnsupportedMediaType", 415),
    ("BadRequest", 400),
    ("Forbidden", 403),
    ("NotFound", 404),
    ("Conflict", 409),
    ("Error", 500),
)

INVALID_KEY_MESSAGE = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key "
    "for an active subscription and use a correct regional API endpoint for your resource."
)


class ErrorStatusMap:
    """Maps a CustomVisionError code to an HTTP status (prefix rules plus explicit overrides)."""

    def __init__(self, overrides: Mapping[str, int] | None = None) -> None:
        self._overrides = dict(overrides or {})

    def status_of(self, code: str) -> int:
        if code in self._overrides:
            return self._overrides[code]
        for prefix, status in _PREFIX_STATUS:
            if code.startswith(prefix):
                return status
        return 500


class ApiError(Exception):
    """A CustomVisionError raised by an operation; the pipeline turns it into a response."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def body(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class GatewayError(Exception):
    """An error answered by the (simulated) API gateway in front of the service."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        return gateway_response(self.status, self.message, self.headers)


def gateway_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": str(status), "message": message}}, status, headers=dict(headers or {}))


def not_found(kind: str, identifier: str) -> ApiError:
    """The NotFound* error for a missing project, tag, iteration, image or domain."""
    return ApiError(f"NotFound{kind}", f"{kind} {identifier} not found.")


class DroppedConnection(Exception):
    """Raised by the app to make the server close the connection without sending a response."""
