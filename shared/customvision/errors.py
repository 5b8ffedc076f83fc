"""Exceptions raised by the Training API client.

A small tree in the style of httpx/openai-python: callers catch the class that matches what they can do
about it (``NotFoundError`` on a delete means "already gone"; ``RateLimitError`` means "slow down").
Exceptions carry the HTTP status, the service's error code, and the ``apim-request-id`` that Microsoft
support asks for. They never hold the request headers (where the training key lives) nor a download
URL's SAS signature.
"""

from __future__ import annotations


class CustomVisionClientError(Exception):
    """Base class of every error this client raises."""


class APIConnectionError(CustomVisionClientError):
    """The request did not get an HTTP response (connection refused or reset, DNS), after retries."""

    def __init__(self, message: str, *, operation: str) -> None:
        super().__init__(f"{operation}: {message}")
        self.operation = operation


class APITimeoutError(APIConnectionError):
    """The request timed out, after retries."""


class APIStatusError(CustomVisionClientError):
    """The service answered with a non-success status.

    ``code`` is the ``CustomVisionError.code`` (e.g. ``BadRequestIterationIsPublished``) or, for the
    API gateway's own answers (401, 429), the gateway's ``error.code``. Unknown codes are kept as
    strings: the spec marks the enum ``modelAsString``.
    """

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        status_code: int,
        code: str | None,
        request_id: str | None,
    ) -> None:
        detail = f"{operation}: HTTP {status_code}"
        if code:
            detail += f" {code}"
        if message:
            detail += f": {message}"
        if request_id:
            detail += f" (apim-request-id {request_id})"
        super().__init__(detail)
        self.operation = operation
        self.status_code = status_code
        self.code = code
        self.message = message
        self.request_id = request_id
        # How many attempts the client made; a NotFound on a retried delete means the delete succeeded.
        self.attempts = 1


class BadRequestError(APIStatusError):
    """400: the request is wrong (or, like ``BadRequestIterationIsPublished``, not allowed yet)."""


class AuthenticationError(APIStatusError):
    """401: the training key is missing, wrong, or for another resource."""


class PermissionDeniedError(APIStatusError):
    """403: e.g. ``ForbiddenDRModeEnabled`` (project read-only during disaster recovery)."""


class UriExpiredError(PermissionDeniedError):
    """403 from a storage URI (image or export file): its signature expired; list again for a fresh one."""


class NotFoundError(APIStatusError):
    """404: ``NotFoundProject``, ``NotFoundIteration``, ``NotFoundTag``, ``NotFoundImage``…"""


class ConflictError(APIStatusError):
    """409."""


class RateLimitError(APIStatusError):
    """429 after the retry budget ran out."""


class InternalServerError(APIStatusError):
    """5xx after the retry budget ran out."""


def status_error_class(status_code: int) -> type[APIStatusError]:
    """The exception class for an HTTP status code."""
    if status_code >= 500:
        return InternalServerError
    return {
        400: BadRequestError,
        401: AuthenticationError,
        403: PermissionDeniedError,
        404: NotFoundError,
        409: ConflictError,
        429: RateLimitError,
    }.get(status_code, APIStatusError)
