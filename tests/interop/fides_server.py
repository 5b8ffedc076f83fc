"""A real Fides server for the interop tests: PostgreSQL and Redis from Debian's packages, Fides
(``ethyca-fides``, pinned in ``requirements-fides.txt``) in its own environment, ``.venv/fides``.

Each run gets a fresh database cluster and Redis in a temporary directory, on free ports, so nothing is
left behind and nothing from an earlier run is read. Fides runs its tasks in the webserver process
(Celery's ``task_always_eager``, its default) and polls asynchronous tasks every second
(``async_polling_interval_hours = 0``: APScheduler's one-second minimum). ``dev_mode`` is on because
Fides refuses to call a loopback address otherwise (``deny_unsafe_hosts``), and cvdsr runs on one here.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from local.http_server import free_port
from tests.tool_venv import ensure

REQUIREMENTS = Path(__file__).with_name("requirements-fides.txt")
CLIENT_ID, CLIENT_SECRET = "cvdsr-interop", "interop-client-secret-5d1e"


def ensure_fides(timeout: float = 1800) -> Path:
    """The ``fides`` executable (about four minutes to install the first time)."""
    return ensure("fides", REQUIREMENTS, "fides", timeout)


def postgres_bin() -> Path:
    """Debian installs PostgreSQL's server programs under /usr/lib/postgresql/<major>/bin, off PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: run tests/interop/setup-debian.sh (make interop does)")
    return Path(found[-1]).parent


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root; CI runs as root, so the server runs as Debian's postgres user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _wait(check: Any, what: str, timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.5)
    tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
    raise TimeoutError(f"{what} not ready after {timeout:.0f} s\n{tail}")


@dataclass
class FidesServer:
    base_url: str
    fides: Path
    environ: dict[str, str]
    workdir: Path
    log: Path
    _token: str | None = field(default=None, repr=False)

    def token(self) -> str:
        """An access token of the root OAuth client (Fides rate-limits the token route: one is kept)."""
        if self._token is None:
            answer = httpx.post(
                f"{self.base_url}/api/v1/oauth/token",
                data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
                timeout=60,
            )
            answer.raise_for_status()
            self._token = str(answer.json()["access_token"])
        return self._token

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {self.token()}"}
        return httpx.request(method, f"{self.base_url}/api/v1{path}", headers=headers, timeout=120, **kwargs)

    def query(self, code: str) -> Any:
        """Run ``code`` in Fides' own environment against its database; it prints one JSON document.
        Every model is imported first (``fides.api.db.base``), as the server does, so relations resolve."""
        python = self.fides.parent / "python"
        program = "import fides.api.db.base  # noqa: F401\n" + code
        done = subprocess.run(
            [str(python), "-W", "ignore", "-c", program],
            env=self.environ,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise RuntimeError(f"query failed:\n{done.stderr[-4000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def log_tail(self, size: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-size:]


@contextmanager
def run_fides() -> Iterator[FidesServer]:
    """Fides on a free port, with its own PostgreSQL cluster and Redis; all removed afterwards. The
    directory is made here, not by pytest: PostgreSQL's user must reach it (pytest's are root-only)."""
    fides = ensure_fides()
    pg_bin = postgres_bin()
    redis = shutil.which("redis-server")
    if redis is None:
        raise RuntimeError("redis-server is not installed: run tests/interop/setup-debian.sh (make interop does)")
    workdir = Path(tempfile.mkdtemp(prefix="cvdsr-fides-"))
    data = workdir / "pg"
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(workdir, owner.pw_uid, owner.pw_gid)
    pg_port, redis_port, port = free_port(), free_port(), free_port()
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        subprocess.run(
            _as_postgres([str(pg_bin / "initdb"), "-D", str(data), "-U", "fides", "--auth=trust"]),
            check=True,
            capture_output=True,
            timeout=120,
        )
        pg_options = f"-p {pg_port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off"
        pg_ctl = [str(pg_bin / "pg_ctl"), "-D", str(data), "-l", str(workdir / "postgres.log")]
        subprocess.run(_as_postgres([*pg_ctl, "-o", pg_options, "-w", "start"]), check=True, timeout=120)
        stack.callback(subprocess.run, _as_postgres([*pg_ctl, "-m", "immediate", "stop"]), timeout=60, check=False)
        subprocess.run(
            [str(pg_bin / "createdb"), "-h", "127.0.0.1", "-p", str(pg_port), "-U", "fides", "fides"],
            check=True,
            timeout=60,
        )
        redis_process = subprocess.Popen(
            [redis, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        stack.callback(redis_process.kill)
        environ = {
            **os.environ,
            "FIDES__DATABASE__SERVER": "127.0.0.1",
            "FIDES__DATABASE__PORT": str(pg_port),
            "FIDES__DATABASE__USER": "fides",
            "FIDES__DATABASE__PASSWORD": "fides",
            "FIDES__DATABASE__DB": "fides",
            "FIDES__REDIS__HOST": "127.0.0.1",
            "FIDES__REDIS__PORT": str(redis_port),
            "FIDES__REDIS__PASSWORD": "",
            "FIDES__REDIS__SSL": "false",
            "FIDES__SECURITY__APP_ENCRYPTION_KEY": os.urandom(16).hex(),  # 32 characters, as Fides requires
            "FIDES__SECURITY__OAUTH_ROOT_CLIENT_ID": CLIENT_ID,
            "FIDES__SECURITY__OAUTH_ROOT_CLIENT_SECRET": CLIENT_SECRET,
            "FIDES__DEV_MODE": "true",
            "FIDES__EXECUTION__ASYNC_POLLING_INTERVAL_HOURS": "0",
            "FIDES__EXECUTION__STATE_POLLING_INTERVAL": "1",
        }
        log = workdir / "fides.log"
        with log.open("wb") as output:
            server = subprocess.Popen(
                [str(fides), "webserver", "--port", str(port)],
                env=environ,
                cwd=workdir,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        stack.callback(_stop, server)
        base_url = f"http://127.0.0.1:{port}"
        _wait(lambda: httpx.get(f"{base_url}/health", timeout=5).status_code == 200, "Fides", 300, log)
        yield FidesServer(base_url=base_url, fides=fides, environ=environ, workdir=workdir, log=log)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)
