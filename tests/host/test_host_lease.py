"""The task hub's host lease: a lease whose holder is gone is broken at start, including a killed host that
its parent has not reaped yet (a zombie) and a pid that now belongs to another process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid

import psutil
import pytest
from azure.storage.blob import BlobClient

from local.host import start_host_process
from local.host.store import DurableStore, HostLeaseError, lease_holder_alive, process_start_time

from .helpers import APPS, wait_until


def sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])


def zombie_of(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL without wait(): the process stays a zombie until it is reaped."""
    process.send_signal(signal.SIGKILL)
    wait_until(lambda: psutil.Process(process.pid).status() == psutil.STATUS_ZOMBIE, 10, "a zombie")


def test_lease_holder_alive():
    live = sleeper()
    try:
        started = process_start_time(live.pid)
        assert lease_holder_alive(live.pid, str(started))
        assert lease_holder_alive(live.pid, None)  # a lease without a start time: the pid alone decides
        assert not lease_holder_alive(live.pid, str(started - 3600))  # the pid was reused
        zombie_of(live)
        assert not lease_holder_alive(live.pid, str(started))
        assert not lease_holder_alive(live.pid, None)
    finally:
        live.kill()
        live.wait()
    assert not lease_holder_alive(live.pid, str(started))  # reaped: gone


def owner(pid: int, started: float, hostid: str) -> dict[str, object]:
    return {"pid": pid, "started": started, "hostname": socket.gethostname(), "hostid": hostid}


async def test_a_lease_naming_a_live_process_with_another_start_time_is_broken(azurite):
    hub = "lease" + uuid.uuid4().hex[:8]
    live = sleeper()
    holder = DurableStore(azurite.connection_string, hub)
    contender = DurableStore(azurite.connection_string, hub)
    try:
        await holder.open()
        await contender.open()
        me = owner(os.getpid(), process_start_time(os.getpid()), "contender")
        # The holder is the live process the lease names: refused.
        await holder.acquire_host_lease(owner(live.pid, process_start_time(live.pid), "holder"))
        with pytest.raises(HostLeaseError, match=f"in use by another host \\(pid {live.pid} "):
            await contender.acquire_host_lease(me)
        await holder.release_host_lease()
        # The same pid with another start time is another process (the holder died, its pid was reused).
        await holder.acquire_host_lease(owner(live.pid, process_start_time(live.pid) - 3600, "holder"))
        await contender.acquire_host_lease(me)
        props = await contender.leases.get_blob_client("host").get_blob_properties()
        assert props.lease.state == "leased"
        assert props.metadata["hostid"] == "contender"
    finally:
        await contender.release_host_lease()
        await holder.close()
        await contender.close()
        live.kill()
        live.wait()


@pytest.mark.slow
def test_a_host_restarted_at_once_after_sigkill_starts_while_the_dead_one_is_a_zombie(azurite, tmp_path):
    hub = "zombie" + uuid.uuid4().hex[:8]
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "TEST_TASK_HUB": hub,
        "TEST_START_QUEUE": "starts-zombie",
        "TEST_WORK_QUEUE": "work-zombie",
        "HOST_TEST_RECORD": str(tmp_path / "record.txt"),
    }
    first = start_host_process(APPS / "durable", env=env, log_path=tmp_path / "first.log")
    try:
        zombie_of(first.process)  # its lease (60 s) is still held, by a pid that os.kill(pid, 0) finds
        second = start_host_process(APPS / "durable", env=env, log_path=tmp_path / "second.log", ready_timeout=30)
        try:
            assert psutil.Process(first.pid).status() == psutil.STATUS_ZOMBIE  # still not reaped
            lease = BlobClient.from_connection_string(azurite.connection_string, f"{hub.lower()}-leases", "host")
            props = lease.get_blob_properties()
            assert props.lease.state == "leased"
            assert props.metadata["pid"] == str(second.pid)
            assert abs(float(props.metadata["started"]) - psutil.Process(second.pid).create_time()) < 1
        finally:
            assert second.stop() == 0
    finally:
        first.process.wait(timeout=10)
