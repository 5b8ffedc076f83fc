"""Custom Vision Training API client: async, retrying, paging, key-safe."""

from .client import (
    API_VERSIONS,
    DEFAULT_API_VERSION,
    MAX_IMAGE_IDS,
    MAX_PREDICTION_IDS,
    MAX_TAG_IDS,
    MAX_TAKE,
    DeleteOutcome,
    Download,
    TrainingClient,
    chunked,
    metadata_filter,
)
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    CustomVisionClientError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UriExpiredError,
)
from .requester import ApiCall, CallObserver
from .retry import RetryPolicy, parse_retry_after
from .throttle import RateLimiter, shared_rate_limiter

__all__ = [
    "API_VERSIONS",
    "DEFAULT_API_VERSION",
    "MAX_IMAGE_IDS",
    "MAX_PREDICTION_IDS",
    "MAX_TAG_IDS",
    "MAX_TAKE",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "ApiCall",
    "AuthenticationError",
    "BadRequestError",
    "CallObserver",
    "ConflictError",
    "CustomVisionClientError",
    "DeleteOutcome",
    "Download",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimiter",
    "RetryPolicy",
    "TrainingClient",
    "UriExpiredError",
    "chunked",
    "metadata_filter",
    "parse_retry_after",
    "shared_rate_limiter",
]
