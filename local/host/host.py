"""The development host: wires the loader, the Durable engine, the HTTP server and the triggers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from local.azurite import REPO_ROOT, AzuriteProcess, ensure_azurite, free_port

from .config import HostConfigError, ProjectConfig, load_project_config, mask_secrets, resolve_expression
from .durable import DurableEngine
from .http import HostHttpApp, build_routes, client_binding, describe
from .invoke import Out, call_user_function
from .loader import FunctionApp, FunctionInfo, load_function_app
from .schedule import Schedule, ScheduleError, parse_schedule
from .store import DurableStore, process_start_time
from .triggers import ServiceBusQueueListener, StorageQueueListener, TimerListener, encode_queue_message

log = logging.getLogger("cvdsr.host")


def development_signing(settings: Mapping[str, str], project_dir: Path) -> dict[str, str]:
    """With no signing key configured, erasure certificates are signed with the development key
    ``<project>/.signing/dev-key.pem`` (git-ignored), created the first time (README "Settings")."""
    from shared import signing

    if any(settings.get(name) for name in signing.SETTINGS):
        return {}
    return {"CVDSR_SIGNING__KEY_FILE": str(signing.ensure_dev_key(project_dir.resolve() / signing.DEV_KEY))}


@dataclass
class HostConfig:
    """How to run the host.

    ``project_dir``: the directory with function_app.py, host.json and local.settings.json.
    ``port``: HTTP port (0 = pick a free one). ``env``: extra settings, applied over local.settings.json
    and the process environment. ``start_azurite``: start Azurite when AzureWebJobsStorage points at a
    loopback Azurite that does not answer (``azurite_location`` defaults to ``<project>/.azurite``).
    """

    project_dir: Path = field(default_factory=Path.cwd)
    port: int = 7071
    host: str = "127.0.0.1"
    env: Mapping[str, str] = field(default_factory=dict)
    start_azurite: bool = True
    azurite_location: Path | None = None


class Host:
    def __init__(self, config: HostConfig) -> None:
        self.config = config
        self.project: ProjectConfig | None = None
        self.app: FunctionApp | None = None
        self.store: DurableStore | None = None
        self.engine: DurableEngine | None = None
        self.http: HostHttpApp | None = None
        self.server: uvicorn.Server | None = None
        self.azurite: AzuriteProcess | None = None
        self.port = config.port
        self.base_url = ""
        self._socket: socket.socket | None = None
        self._listeners: list[StorageQueueListener | ServiceBusQueueListener | TimerListener] = []
        self._schedules: dict[str, Schedule] = {}
        self._server_task: asyncio.Task[None] | None = None
        self._lease_task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="function")
        self._env_backup: dict[str, str | None] = {}
        self.host_id = uuid.uuid4().hex

    # --- settings -----------------------------------------------------------------------------
    def prepare(self) -> ProjectConfig:
        """Read the configuration, export the app settings to the environment (as Core Tools does),
        start Azurite if needed, and load/index the function app. Blocking; call before :meth:`start`."""
        env = {**os.environ, **dict(self.config.env)}
        project = load_project_config(self.config.project_dir, env)
        for key, value in {**project.settings, **development_signing(project.settings, project.project_dir)}.items():
            if os.environ.get(key) != value:
                self._env_backup.setdefault(key, os.environ.get(key))
                os.environ[key] = value
        conn = project.storage_connection()
        if self.config.start_azurite:
            location = self.config.azurite_location or (project.project_dir / ".azurite")
            self.azurite = ensure_azurite(conn, location)
            if self.azurite is not None:
                log.info(
                    "Started Azurite (blob %d, queue %d, table %d)",
                    self.azurite.blob_port,
                    self.azurite.queue_port,
                    self.azurite.table_port,
                )
        self.project = project
        self.app = load_function_app(project.project_dir)
        self._schedules = timer_schedules(self.app, project.settings)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((self.config.host, self.config.port))
        self.port = int(self._socket.getsockname()[1])
        self.base_url = f"http://{self.config.host}:{self.port}"
        return project

    def restore_environment(self) -> None:
        for key, value in self._env_backup.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._env_backup.clear()

    # --- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        if self.project is None or self.app is None or self._socket is None:
            raise RuntimeError("call prepare() first")
        project, app = self.project, self.app
        hub = project.durable.hub_name
        needs_durable = any(
            f.trigger_type in ("orchestrationTrigger", "activityTrigger") or f.bindings_of("durableClient")
            for f in app.functions.values()
        )
        if needs_durable:
            self.store = DurableStore(project.storage_connection(), hub)
            await self.store.open()
            await self.store.acquire_host_lease(
                {
                    "pid": os.getpid(),
                    "started": process_start_time(os.getpid()),
                    "hostname": socket.gethostname(),
                    "hostid": self.host_id,
                }
            )
            self.engine = DurableEngine(
                app,
                self.store,
                project.durable,
                project_dir=str(project.project_dir),
                function_executor=self._executor,
            )
        routes = build_routes(app.of_trigger("httpTrigger"))
        self.http = HostHttpApp(
            routes, project.route_prefix, self.engine, hub, self._invoke_http, max_body_bytes=project.max_body_bytes
        )
        self.http.base_url = self.base_url
        uv_config = uvicorn.Config(
            self.http, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2
        )
        self.server = uvicorn.Server(uv_config)
        # The host handles SIGTERM/SIGINT itself (cli.py); uvicorn must not take them over.
        self.server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
        self._socket.listen(128)
        self._server_task = asyncio.create_task(self.server.serve(sockets=[self._socket]))
        while not self.server.started:
            if self._server_task.done():
                await self._server_task
                raise RuntimeError("HTTP server stopped")
            await asyncio.sleep(0.02)
        if self.engine is not None:
            await self.engine.start()
            self._lease_task = asyncio.create_task(self._renew_lease())
        await self._start_listeners()
        self.http.ready = True
        names = ", ".join(sorted(app.functions))
        log.info("Host started: %d functions (%s), task hub '%s'", len(app.functions), names, hub)
        for line in describe(routes, self.base_url, project.route_prefix):
            log.info("  %s", line)

    async def _renew_lease(self) -> None:
        assert self.store is not None
        while True:
            await asyncio.sleep(20)
            try:
                await self.store.renew_host_lease()
            except Exception as exc:
                log.warning("could not renew the task hub lease: %s", mask_secrets(str(exc)))

    async def _start_listeners(self) -> None:
        assert self.project is not None
        assert self.app is not None
        project = self.project
        for fn in self.app.of_trigger("queueTrigger"):
            queue = resolve_expression(str(fn.trigger["queueName"]), project.settings, f"function '{fn.name}'")
            conn = project.storage_connection(str(fn.trigger.get("connection") or "AzureWebJobsStorage"))
            listener = StorageQueueListener(fn.name, conn, queue, project.queues, self._invoker(fn), fn.trigger_name)
            await listener.start()
            self._listeners.append(listener)
            log.info("  %s: queueTrigger on '%s'", fn.name, queue)
        for fn in self.app.of_trigger("serviceBusTrigger"):
            queue_name = fn.trigger.get("queueName")
            setting = str(fn.trigger.get("connection") or "ServiceBusConnection")
            conn_value = project.settings.get(setting) or project.settings.get(f"AzureWebJobs{setting}")
            if not queue_name:
                log.error("function '%s': only Service Bus queue triggers are supported (not topics)", fn.name)
                continue
            if not conn_value:
                log.warning(
                    "function '%s' is disabled: Service Bus connection setting '%s' is not configured",
                    fn.name,
                    setting,
                )
                continue
            queue = resolve_expression(str(queue_name), project.settings, f"function '{fn.name}'")
            sb_listener = ServiceBusQueueListener(
                fn.name, conn_value, queue, project.service_bus, self._invoker(fn), fn.trigger_name
            )
            await sb_listener.start()
            self._listeners.append(sb_listener)
            log.info("  %s: serviceBusTrigger on '%s'", fn.name, queue)
        for fn in self.app.of_trigger("timerTrigger"):
            schedule = self._schedules[fn.name]
            on_startup = bool(fn.trigger.get("runOnStartup"))
            timer = TimerListener(fn.name, schedule, on_startup, self._invoker(fn), fn.trigger_name)
            await timer.start()
            self._listeners.append(timer)
            log.info("  %s: timerTrigger '%s'%s", fn.name, schedule.expression, " (runs on startup)" * on_startup)

    async def stop(self) -> None:
        if self.http is not None:
            self.http.ready = False
        for listener in self._listeners:
            with contextlib.suppress(Exception):
                await listener.stop()
        self._listeners.clear()
        if self.engine is not None:
            await self.engine.stop()
        if self._lease_task is not None:
            self._lease_task.cancel()
            await asyncio.gather(self._lease_task, return_exceptions=True)
        if self.server is not None and self._server_task is not None:
            self.server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server_task, timeout=5)
        # The Durable library keeps one aiohttp session per process, bound to the loop that made it:
        # close it so a later host in this process (another loop) gets a fresh one.
        with contextlib.suppress(Exception):
            from azure.durable_functions.models.utils import http_utils

            await http_utils._close_session()
            http_utils._session_lock = asyncio.Lock()
        if self.store is not None:
            with contextlib.suppress(Exception):
                await self.store.release_host_lease()
            await self.store.close()
        self._executor.shutdown(wait=False, cancel_futures=True)
        log.info("Host stopped")

    def stop_azurite(self) -> None:
        if self.azurite is not None:
            self.azurite.stop()
            self.azurite = None

    # --- invoking functions -------------------------------------------------------------------
    def _invoker(self, fn: FunctionInfo) -> Any:
        async def invoke(kwargs: dict[str, Any]) -> Any:
            return await self.invoke_function(fn, kwargs)

        return invoke

    async def _invoke_http(self, fn: FunctionInfo, kwargs: dict[str, Any]) -> Any:
        return await self.invoke_function(fn, kwargs)

    async def invoke_function(self, fn: FunctionInfo, kwargs: dict[str, Any]) -> Any:
        """Bind the non-trigger bindings (durable client, queue outputs), call, and flush outputs."""
        assert self.project is not None
        outs: dict[str, tuple[Out, dict[str, Any]]] = {}
        for binding in fn.bindings:
            name = str(binding.get("name"))
            btype = binding.get("type")
            if btype == "durableClient":
                hub = binding.get("taskHub") or self.project.durable.hub_name
                kwargs[name] = json.dumps(client_binding(self.base_url, str(hub)))
            elif btype == "queue" and str(binding.get("direction", "")).upper() == "OUT" and name != "$return":
                out = Out()
                outs[name] = (out, binding)
                kwargs[name] = out
        result = await call_user_function(fn, kwargs, self._executor, project_dir=str(self.project.project_dir))
        for out, binding in outs.values():
            await self._send_queue_output(binding, out.get())
        for binding in fn.bindings:
            if binding.get("name") == "$return" and binding.get("type") == "queue":
                await self._send_queue_output(binding, result)
        return result

    async def _send_queue_output(self, binding: dict[str, Any], value: Any) -> None:
        if value is None:
            return
        from azure.core.exceptions import ResourceExistsError
        from azure.storage.queue.aio import QueueClient

        assert self.project is not None
        queue = resolve_expression(str(binding["queueName"]), self.project.settings, "queue output binding")
        conn = self.project.storage_connection(str(binding.get("connection") or "AzureWebJobsStorage"))
        values = value if isinstance(value, list) else [value]
        async with QueueClient.from_connection_string(conn, queue) as client:
            with contextlib.suppress(ResourceExistsError):
                await client.create_queue()
            for item in values:
                if hasattr(item, "get_body"):
                    item = item.get_body()
                elif not isinstance(item, str | bytes):
                    item = json.dumps(item)
                await client.send_message(encode_queue_message(item, self.project.queues.message_encoding))


def timer_schedules(app: FunctionApp, settings: dict[str, str]) -> dict[str, Schedule]:
    """Each timer function's schedule (``%SETTING%`` resolved), parsed at load so a bad one stops the host
    with the function's name instead of failing later."""
    schedules: dict[str, Schedule] = {}
    for fn in app.of_trigger("timerTrigger"):
        raw = str(fn.trigger.get("schedule") or "")
        expression = resolve_expression(raw, settings, f"function '{fn.name}'")
        try:
            schedules[fn.name] = parse_schedule(expression)
        except ScheduleError as exc:
            source = f" (from '{raw}')" if raw != expression else ""
            raise ScheduleError(f"function '{fn.name}': timer {exc}{source}") from None
    return schedules


# --- programmatic API -----------------------------------------------------------------------------
@dataclass
class RunningHost:
    """A host running in this process (background thread with its own event loop)."""

    base_url: str
    port: int
    host: Host
    loop: asyncio.AbstractEventLoop

    def call(self, coro: Any, timeout: float = 30.0) -> Any:
        """Run a coroutine on the host's loop (e.g. to inspect the engine) and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


@contextlib.contextmanager
def run_host(config: HostConfig | None = None, **kwargs: Any) -> Iterator[RunningHost]:
    """Run the host in-process for the duration of the block: ``with run_host(HostConfig(...)) as h:``.

    Keyword arguments build a HostConfig when ``config`` is None (``run_host(project_dir=..., port=0)``).
    """
    cfg = config or HostConfig(**kwargs)
    host = Host(cfg)
    ready = threading.Event()
    failure: list[BaseException] = []
    loop = asyncio.new_event_loop()
    stop_event: asyncio.Event | None = None

    async def main() -> None:
        nonlocal stop_event
        stop_event = asyncio.Event()
        try:
            await host.start()
        except BaseException as exc:
            failure.append(exc)
            ready.set()
            with contextlib.suppress(Exception):
                await host.stop()
            return
        ready.set()
        await stop_event.wait()
        await host.stop()

    def thread_main() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(main())
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    try:
        host.prepare()
    except BaseException:
        host.restore_environment()
        host.stop_azurite()
        raise
    thread = threading.Thread(target=thread_main, name="cvdsr-host", daemon=True)
    thread.start()
    ready.wait()
    try:
        if failure:
            raise failure[0]
        yield RunningHost(base_url=host.base_url, port=host.port, host=host, loop=loop)
    finally:
        if stop_event is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop_event.set)
        thread.join(timeout=30)
        host.restore_environment()
        host.stop_azurite()


class HostProcess:
    """A host running as a subprocess (``python -m local.host``)."""

    def __init__(self, process: subprocess.Popen[bytes], base_url: str, port: int, log_path: Path) -> None:
        self.process = process
        self.base_url = base_url
        self.port = port
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        """Everything the host printed so far (stdout and stderr)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the host (no cleanup: what a crash looks like)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 20.0) -> int:
        """Graceful stop (SIGTERM), SIGKILL if it does not exit in time. Returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return int(self.process.returncode)


def start_host_process(
    project_dir: Path | str,
    *,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
    ready_timeout: float = 60.0,
    extra_args: list[str] | None = None,
) -> HostProcess:
    """Start ``python -m local.host --project DIR --port N`` and wait until ``/admin/host/status`` answers.

    ``env`` is merged over the current environment (settings such as AzureWebJobsStorage go there).
    Output goes to ``log_path`` (default: ``host.log`` in a new temporary directory); see ``.output()``.
    """
    import httpx

    project = Path(project_dir).resolve()
    chosen = port or free_port()
    if log_path is None:
        import tempfile

        log_path = Path(tempfile.mkdtemp(prefix="cvdsr-host-")) / "host.log"
    full_env = {**os.environ, **dict(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), full_env.get("PYTHONPATH", "")) if p)
    full_env.setdefault("PYTHONUNBUFFERED", "1")
    args = [sys.executable, "-m", "local.host", "--project", str(project), "--port", str(chosen)]
    args += extra_args or []
    with log_path.open("ab") as out:
        process = subprocess.Popen(args, cwd=str(REPO_ROOT), env=full_env, stdout=out, stderr=subprocess.STDOUT)
    handle = HostProcess(process, f"http://127.0.0.1:{chosen}", chosen, log_path)
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise HostConfigError(f"host exited with code {process.returncode}:\n{handle.output()[-4000:]}")
        try:
            response = httpx.get(f"{handle.base_url}/admin/host/status", timeout=1.0)
            if response.status_code == 200:
                return handle
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    handle.stop()
    raise HostConfigError(f"host did not become ready in {ready_timeout}s:\n{handle.output()[-4000:]}")
