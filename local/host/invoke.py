"""Calling user functions the way the Python worker does (converters, ``context``, ``func.Out``)."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import azure.functions as func

from .config import mask_secrets
from .loader import FunctionInfo

log = logging.getLogger("cvdsr.host")


class InvocationContext(func.Context):
    """The ``context`` parameter (azure.functions.Context) the worker passes when a function asks for it."""

    def __init__(self, function_name: str, function_directory: str, invocation_id: str) -> None:
        self._function_name = function_name
        self._function_directory = function_directory
        self._invocation_id = invocation_id

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def thread_local_storage(self) -> Any:
        return None

    @property
    def trace_context(self) -> Any:
        return None

    @property
    def retry_context(self) -> Any:
        return None


class Out(func.Out[Any]):
    """An output binding parameter (``func.Out[T]``)."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: Any) -> None:
        self._value = val

    def get(self) -> Any:
        return self._value


def format_exception(exc: BaseException) -> tuple[str, str]:
    """(message, stack) as the Python worker reports an exception (``TypeName: message``)."""
    message = f"{type(exc).__name__}: {exc}"
    stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return mask_secrets(message), mask_secrets(stack)


async def call_user_function(
    fn: FunctionInfo,
    kwargs: dict[str, Any],
    executor: ThreadPoolExecutor,
    *,
    instance_id: str | None = None,
    project_dir: str = "",
    detail: str = "",
) -> Any:
    """Run the user function (async on the loop, sync in the thread pool) with one log line at start and
    one at finish (status, invocation id, instance id, duration)."""
    invocation_id = str(uuid.uuid4())
    if "context" in fn.parameters and "context" not in kwargs:
        kwargs["context"] = InvocationContext(fn.name, project_dir, invocation_id)
    where = f" instance={instance_id}" if instance_id else ""
    extra = f" {detail}" if detail else ""
    log.info("Executing 'Functions.%s' (Id=%s)%s%s", fn.name, invocation_id, where, extra)
    started = time.monotonic()
    try:
        if fn.is_async:
            result = await fn.func(**kwargs)
        else:
            loop = asyncio.get_running_loop()
            ctx = contextvars.copy_context()
            call: Callable[[], Any] = functools.partial(ctx.run, fn.func, **kwargs)
            result = await loop.run_in_executor(executor, call)
    except BaseException as exc:
        ms = (time.monotonic() - started) * 1000
        if isinstance(exc, asyncio.CancelledError):
            log.info("Executed 'Functions.%s' (Cancelled, Id=%s, Duration=%dms)%s", fn.name, invocation_id, ms, where)
            raise
        message, _ = format_exception(exc)
        log.info(
            "Executed 'Functions.%s' (Failed, Id=%s, Duration=%dms)%s: %s", fn.name, invocation_id, ms, where, message
        )
        raise
    ms = (time.monotonic() - started) * 1000
    log.info("Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%dms)%s", fn.name, invocation_id, ms, where)
    return result
