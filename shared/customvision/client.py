"""Async client for the Custom Vision Training API (v3.3 by default, v3.4-preview on request).

Covers what a data subject request needs: reading every kind of data (projects, iterations and their
performance, tags, images with their files, model exports, stored predictions) and deleting it in an
order the API accepts. Lists come as async iterators of pages (``take=256``, the API's maximum), so
nothing proportional to the account is held in memory; id lists are split to the API's limits here,
not by callers.

Usage::

    async with TrainingClient(endpoint, key) as client:
        async for page in client.iter_image_pages(project_id):
            ...
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, TypedDict, TypeVar, Unpack
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, TypeAdapter

from .errors import BadRequestError, NotFoundError
from .models import (
    Domain,
    Export,
    Image,
    ImagePerformance,
    Iteration,
    IterationPerformance,
    PredictionQueryResult,
    PredictionQueryToken,
    Project,
    StoredImagePrediction,
    Tag,
)
from .requester import CallObserver, QueryValue, Requester, Sleep
from .retry import RetryPolicy
from .throttle import RateLimiter

API_VERSIONS = ("3.3", "3.4-preview")
DEFAULT_API_VERSION = "3.3"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)

# The API's limits (Swagger ``maximum``/``maxItems``).
MAX_TAKE = 256
MAX_IMAGE_IDS = 256
MAX_PREDICTION_IDS = 64
MAX_TAG_IDS = 20
MAX_IMAGE_TAG_IMAGE_IDS = 64
# QueryPredictions' maxCount: the service's own default, the one size it certainly accepts (no maximum
# is documented). It also fits one DeletePrediction call (64 ids) per page.
PREDICTION_PAGE = 50

TaggingStatus = Literal["All", "Tagged", "Untagged"]
OrderBy = Literal["Newest", "Oldest"]


class ImageQuery(TypedDict, total=False):
    """Which images: of the workspace (default) or an iteration's snapshot, by tagging, tags, metadata."""

    iteration_id: str | None
    tagging_status: TaggingStatus | None
    tag_ids: Sequence[str] | None
    metadata_filter: str | None


M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


class DeleteOutcome(StrEnum):
    """What a delete call found. Both mean the thing is gone; the difference goes into the audit."""

    DELETED = "deleted"
    ALREADY_ABSENT = "already_absent"


@dataclass(frozen=True)
class Download:
    """A file being downloaded: stream it with ``aiter_bytes``; nothing is buffered."""

    content_type: str
    content_length: int | None
    _response: httpx.Response

    def aiter_bytes(self, chunk_size: int = 256 * 1024) -> AsyncIterator[bytes]:
        return self._response.aiter_bytes(chunk_size)


def chunked(items: Iterable[T], size: int) -> Iterable[list[T]]:
    """Consecutive lists of at most ``size`` items."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def metadata_filter(metadata: Mapping[str, str]) -> str:
    """The ``$filter`` expression matching images whose metadata has every given key and value.

    The API's grammar: ``key1 eq 'value1' and key2 ne 'value2'``. Single quotes in values are doubled
    (OData string literals), so a value cannot end the literal and inject an ``or``.
    """
    if not metadata:
        raise ValueError("metadata filter needs at least one key")
    clauses = []
    for key, value in metadata.items():
        if not key or not key.replace("_", "").replace("-", "").replace(".", "").isalnum():
            raise ValueError(f"metadata key {key!r} is not a plain name")
        escaped = value.replace("'", "''")
        clauses.append(f"{key} eq '{escaped}'")
    return " and ".join(clauses)


class TrainingClient:
    """Client for one Custom Vision training resource (one endpoint and key).

    Owns one ``httpx.AsyncClient``; use it as an async context manager or call ``aclose``.
    """

    def __init__(
        self,
        endpoint: str,
        training_key: str,
        *,
        api_version: str = DEFAULT_API_VERSION,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        rate_limiter: RateLimiter | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        user_agent: str = "cvdsr/0.1",
        observer: CallObserver | None = None,
    ) -> None:
        if api_version not in API_VERSIONS:
            raise ValueError(f"api_version must be one of {', '.join(API_VERSIONS)}")
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("endpoint must be an absolute http(s) URL, e.g. https://NAME.cognitiveservices.azure.com")
        self.endpoint = endpoint.rstrip("/")
        self.api_version = api_version
        self.prediction_page_size = PREDICTION_PAGE
        self._requester = Requester(
            base_url=f"{self.endpoint}/customvision/v{api_version}/training",
            training_key=training_key,
            retry=retry or RetryPolicy(),
            timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
            rate_limiter=rate_limiter,
            transport=transport,
            sleep=sleep,
            rng=rng or random.Random(),
            user_agent=user_agent,
            observer=observer,
        )

    def __repr__(self) -> str:
        return f"TrainingClient(endpoint={self.endpoint!r}, api_version={self.api_version!r})"

    async def __aenter__(self) -> TrainingClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._requester.aclose()

    # -- plumbing ---------------------------------------------------------------------------------------

    async def _get(self, operation: str, path: str, model: type[M], **params: QueryValue) -> M:
        response = await self._requester.call(operation, "GET", path, params=params)
        return model.model_validate_json(response.content)

    async def _get_list(self, operation: str, path: str, model: type[M], **params: QueryValue) -> list[M]:
        response = await self._requester.call(operation, "GET", path, params=params)
        return TypeAdapter(list[model]).validate_json(response.content)  # type: ignore[valid-type]

    async def _get_int(self, operation: str, path: str, **params: QueryValue) -> int:
        response = await self._requester.call(operation, "GET", path, params=params)
        return int(response.json())

    async def _delete(self, operation: str, path: str, *, missing_ok: bool, **params: QueryValue) -> DeleteOutcome:
        """DELETE; a NotFound means "already gone" (``missing_ok``) and, after a retry, "we deleted it"."""
        try:
            await self._requester.call(operation, "DELETE", path, params=params)
        except NotFoundError as error:
            if error.attempts > 1:
                return DeleteOutcome.DELETED
            if missing_ok:
                return DeleteOutcome.ALREADY_ABSENT
            raise
        return DeleteOutcome.DELETED

    @staticmethod
    def _csv(ids: Sequence[str] | None) -> str | None:
        return ",".join(ids) if ids else None

    # -- domains and projects ---------------------------------------------------------------------------

    async def get_domain(self, domain_id: str) -> Domain:
        return await self._get("GetDomain", f"/domains/{domain_id}", Domain)

    async def get_projects(self) -> list[Project]:
        """All projects (the API does not page this list; S0 allows at most 100)."""
        return await self._get_list("GetProjects", "/projects", Project)

    async def get_project(self, project_id: str) -> Project:
        return await self._get("GetProject", f"/projects/{project_id}", Project)

    async def delete_project(self, project_id: str, *, missing_ok: bool = True) -> DeleteOutcome:
        return await self._delete("DeleteProject", f"/projects/{project_id}", missing_ok=missing_ok)

    # -- iterations -------------------------------------------------------------------------------------

    async def get_iterations(self, project_id: str) -> list[Iteration]:
        return await self._get_list("GetIterations", f"/projects/{project_id}/iterations", Iteration)

    async def get_iteration(self, project_id: str, iteration_id: str) -> Iteration:
        return await self._get("GetIteration", f"/projects/{project_id}/iterations/{iteration_id}", Iteration)

    async def get_iteration_performance(
        self,
        project_id: str,
        iteration_id: str,
        *,
        threshold: float | None = None,
        overlap_threshold: float | None = None,
    ) -> IterationPerformance:
        return await self._get(
            "GetIterationPerformance",
            f"/projects/{project_id}/iterations/{iteration_id}/performance",
            IterationPerformance,
            threshold=threshold,
            overlapThreshold=overlap_threshold,
        )

    async def get_image_performances(
        self,
        project_id: str,
        iteration_id: str,
        *,
        skip: int = 0,
        take: int = MAX_TAKE,
        order_by: OrderBy = "Oldest",
    ) -> list[ImagePerformance]:
        _check_take(take)
        return await self._get_list(
            "GetImagePerformances",
            f"/projects/{project_id}/iterations/{iteration_id}/performance/images",
            ImagePerformance,
            orderBy=order_by,
            take=take,
            skip=skip,
        )

    async def get_image_performance_count(self, project_id: str, iteration_id: str) -> int:
        return await self._get_int(
            "GetImagePerformanceCount",
            f"/projects/{project_id}/iterations/{iteration_id}/performance/images/count",
        )

    async def get_exports(self, project_id: str, iteration_id: str) -> list[Export]:
        return await self._get_list("GetExports", f"/projects/{project_id}/iterations/{iteration_id}/export", Export)

    async def unpublish_iteration(self, project_id: str, iteration_id: str) -> DeleteOutcome:
        """Unpublish; an iteration that is not (or no longer) published counts as already done."""
        try:
            return await self._delete(
                "UnpublishIteration",
                f"/projects/{project_id}/iterations/{iteration_id}/publish",
                missing_ok=True,
            )
        except BadRequestError as error:
            if error.code == "BadRequestIterationNotPublished":
                return DeleteOutcome.DELETED if error.attempts > 1 else DeleteOutcome.ALREADY_ABSENT
            raise

    async def delete_iteration(self, project_id: str, iteration_id: str, *, missing_ok: bool = True) -> DeleteOutcome:
        return await self._delete(
            "DeleteIteration", f"/projects/{project_id}/iterations/{iteration_id}", missing_ok=missing_ok
        )

    # -- tags -------------------------------------------------------------------------------------------

    async def get_tags(self, project_id: str, *, iteration_id: str | None = None) -> list[Tag]:
        """Tags of the workspace, or of a trained iteration's snapshot."""
        return await self._get_list("GetTags", f"/projects/{project_id}/tags", Tag, iterationId=iteration_id)

    async def delete_tag(self, project_id: str, tag_id: str, *, missing_ok: bool = True) -> DeleteOutcome:
        return await self._delete("DeleteTag", f"/projects/{project_id}/tags/{tag_id}", missing_ok=missing_ok)

    # -- images -----------------------------------------------------------------------------------------

    async def get_images(
        self,
        project_id: str,
        *,
        order_by: OrderBy = "Oldest",
        skip: int = 0,
        take: int = MAX_TAKE,
        **query: Unpack[ImageQuery],
    ) -> list[Image]:
        """One page of GetImages (v3.3+). ``Oldest`` first keeps pages stable while images are added."""
        _check_take(take)
        _check_tag_ids(query.get("tag_ids"))
        return await self._get_list(
            "GetImages",
            f"/projects/{project_id}/images",
            Image,
            **self._image_query(query),
            orderBy=order_by,
            take=take,
            skip=skip,
        )

    def iter_image_pages(
        self, project_id: str, *, page_size: int = MAX_TAKE, **query: Unpack[ImageQuery]
    ) -> AsyncIterator[list[Image]]:
        """Every matching image, a page at a time.

        Paging uses ``skip``, so the set must not shrink while it is read: an erase collects ids
        before deleting, or re-reads from the start.
        """
        return _pages(lambda skip: self.get_images(project_id, skip=skip, take=page_size, **query), page_size)

    async def get_image_count(self, project_id: str, **query: Unpack[ImageQuery]) -> int:
        return await self._get_int("GetImageCount", f"/projects/{project_id}/images/count", **self._image_query(query))

    def _image_query(self, query: ImageQuery) -> dict[str, QueryValue]:
        """The API's names for an image query (the same on GetImages and GetImageCount)."""
        return {
            "iterationId": query.get("iteration_id"),
            "taggingStatus": query.get("tagging_status"),
            "tagIds": self._csv(query.get("tag_ids")),
            "$filter": query.get("metadata_filter"),
        }

    async def get_tagged_image_count(
        self, project_id: str, *, iteration_id: str | None = None, tag_ids: Sequence[str] | None = None
    ) -> int:
        return await self._get_int(
            "GetTaggedImageCount",
            f"/projects/{project_id}/images/tagged/count",
            iterationId=iteration_id,
            tagIds=self._csv(tag_ids),
        )

    async def get_untagged_image_count(self, project_id: str, *, iteration_id: str | None = None) -> int:
        return await self._get_int(
            "GetUntaggedImageCount", f"/projects/{project_id}/images/untagged/count", iterationId=iteration_id
        )

    async def iter_images_by_ids(
        self, project_id: str, image_ids: Iterable[str], *, iteration_id: str | None = None
    ) -> AsyncIterator[list[Image]]:
        """The images among ``image_ids`` that exist, in calls of at most 256 ids."""
        for chunk in chunked(image_ids, MAX_IMAGE_IDS):
            yield await self._get_list(
                "GetImagesByIds",
                f"/projects/{project_id}/images/id",
                Image,
                imageIds=",".join(chunk),
                iterationId=iteration_id,
            )

    async def delete_images(self, project_id: str, image_ids: Iterable[str], *, all_iterations: bool = True) -> int:
        """Delete the given images in calls of at most 256 ids; returns the number of calls made.

        ``all_iterations`` also removes them from every trained iteration's snapshot, which is what
        erasure needs (the default). The service answers 202 then and finishes in the background:
        verify with the counts.
        """
        calls = 0
        for chunk in chunked(image_ids, MAX_IMAGE_IDS):
            await self._delete(
                "DeleteImages",
                f"/projects/{project_id}/images",
                missing_ok=True,
                imageIds=",".join(chunk),
                allIterations=all_iterations or None,
            )
            calls += 1
        return calls

    async def delete_all_images(self, project_id: str, *, all_iterations: bool = True) -> None:
        """``allImages=true``: asynchronous on the service side (202); poll the counts until 0."""
        await self._delete(
            "DeleteImages",
            f"/projects/{project_id}/images",
            missing_ok=True,
            allImages=True,
            allIterations=all_iterations or None,
        )

    async def delete_image_tags(self, project_id: str, image_ids: Sequence[str], tag_ids: Sequence[str]) -> int:
        """Remove tags from images (64 images by 20 tags a call); returns the number of calls."""
        calls = 0
        for image_chunk in chunked(image_ids, MAX_IMAGE_TAG_IMAGE_IDS):
            for tag_chunk in chunked(tag_ids, MAX_TAG_IDS):
                await self._delete(
                    "DeleteImageTags",
                    f"/projects/{project_id}/images/tags",
                    missing_ok=True,
                    imageIds=",".join(image_chunk),
                    tagIds=",".join(tag_chunk),
                )
                calls += 1
        return calls

    # -- stored predictions -----------------------------------------------------------------------------

    async def query_predictions(
        self, project_id: str, query: PredictionQueryToken | None = None
    ) -> PredictionQueryResult:
        """One page of stored predictions; pass the returned ``token`` back for the next page.

        The page size is the client's: QueryPredictions' largest ``maxCount`` is not documented, so it
        starts at the service's own default (50) and, if the service answers
        ``BadRequestPredictionResultsExceededCount``, halves it and asks again, for this and every later
        page. A continuation token is not changed by the size of the page that asks with it.
        """
        query = query or PredictionQueryToken()
        while True:
            sized = query.model_copy(update={"max_count": self.prediction_page_size})
            body: dict[str, Any] = sized.model_dump(mode="json", by_alias=True, exclude_none=True)
            try:
                response = await self._requester.call(
                    "QueryPredictions", "POST", f"/projects/{project_id}/predictions/query", body=body
                )
            except BadRequestError as error:
                refused = sized.max_count or PREDICTION_PAGE
                if error.code != "BadRequestPredictionResultsExceededCount" or refused == 1:
                    raise
                # Steps share the client: halve what was refused, not what another step already halved.
                self.prediction_page_size = min(self.prediction_page_size, max(1, refused // 2))
                continue
            return PredictionQueryResult.model_validate_json(response.content)

    async def iter_prediction_pages(
        self, project_id: str, *, iteration_id: str | None = None
    ) -> AsyncIterator[list[StoredImagePrediction]]:
        """Every stored prediction, following the continuation token until the service has no more."""
        query = PredictionQueryToken(order_by="Oldest", iteration_id=iteration_id)
        seen_tokens: set[str] = set()
        while True:
            result = await self.query_predictions(project_id, query)
            if result.results:
                yield result.results
            continuation = result.token.continuation if result.token else None
            # An empty, missing or repeated continuation token ends the listing (never loop forever).
            if not continuation or continuation in seen_tokens or not result.results:
                return
            seen_tokens.add(continuation)
            assert result.token is not None
            query = result.token

    async def delete_predictions(self, project_id: str, prediction_ids: Iterable[str]) -> int:
        """Delete stored predictions in calls of at most 64 ids; returns the number of calls."""
        calls = 0
        for chunk in chunked(prediction_ids, MAX_PREDICTION_IDS):
            await self._delete(
                "DeletePrediction",
                f"/projects/{project_id}/predictions",
                missing_ok=True,
                ids=",".join(chunk),
            )
            calls += 1
        return calls

    # -- files ------------------------------------------------------------------------------------------

    @asynccontextmanager
    async def download(self, project_id: str, uri: str) -> AsyncIterator[Download]:
        """Stream an image or export file from the URI the API gave.

        Absolute URIs are storage URLs (often SAS-signed): they are fetched without the training key,
        which must not travel to another host. Relative URIs (the VNET feature) go through GetArtifact
        with the key. An expired URI raises ``UriExpiredError``: list the item again for a fresh URI.
        """
        if urlsplit(uri).scheme in ("http", "https"):
            context = self._requester.stream("DownloadFile", uri, authenticated=False)
        else:
            context = self._requester.stream(
                "GetArtifact",
                f"{self._requester.base_url}/projects/{project_id}/artifacts",
                authenticated=True,
                params={"path": uri},
            )
        async with context as response:
            length = response.headers.get("Content-Length")
            yield Download(
                content_type=response.headers.get("Content-Type", "application/octet-stream"),
                content_length=int(length) if length and length.isdigit() else None,
                _response=response,
            )


async def _pages(fetch: Callable[[int], Awaitable[list[T]]], page_size: int) -> AsyncIterator[list[T]]:
    """Call ``fetch(skip)`` for consecutive pages until a short page."""
    skip = 0
    while True:
        page = await fetch(skip)
        if page:
            yield page
        if len(page) < page_size:
            return
        skip += len(page)


def _check_take(take: int) -> None:
    if not 1 <= take <= MAX_TAKE:
        raise ValueError(f"take must be between 1 and {MAX_TAKE}")


def _check_tag_ids(tag_ids: Sequence[str] | None) -> None:
    # Filtering by more than 20 tags would need a union across calls; callers filter per tag instead.
    if tag_ids is not None and len(tag_ids) > MAX_TAG_IDS:
        raise ValueError(f"at most {MAX_TAG_IDS} tag ids per image query (the API's limit)")
