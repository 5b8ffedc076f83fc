"""CPU time and peak memory of the process trees a run starts (the host, Azurite), read through psutil.

Both meters re-list the tree at every reading: the host and Azurite may start and end children during a
run. A process that has ended by the time of a reading no longer counts (its CPU time is lost)."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

_VMHWM = re.compile(r"^VmHWM:\s+(\d+) kB", re.MULTILINE)


def process_tree(pid: int) -> list[psutil.Process]:
    """``pid`` and every process below it, now (empty when ``pid`` is gone)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and of its descendants (a process that is gone adds nothing)."""
    total = 0.0
    for process in process_tree(pid):
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def peak_rss_kib(pid: int) -> int | None:
    """The kernel's high-water mark of ``pid``'s resident set (``VmHWM``), in KiB; None when it is gone.

    The one value still read from /proc by hand: psutil has no peak RSS on Linux (``memory_info()`` and
    ``memory_full_info()`` give the current rss, uss, pss and swap only), and keeping the largest current
    RSS seen would miss every peak that falls between two samples."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = _VMHWM.search(text)
    return int(match.group(1)) if match else None


class CpuMeter:
    """CPU seconds each named process tree (and this process: the simulator and the polling) used from
    construction to ``used()``; with the wall time, it shows which part of the machine was busy."""

    def __init__(self, pids: dict[str, int]) -> None:
        self._pids = pids
        self._start = {name: cpu_seconds(pid) for name, pid in pids.items()}
        self._own = time.process_time()

    def used(self) -> dict[str, float]:
        result = {name: round(cpu_seconds(pid) - self._start[name], 2) for name, pid in self._pids.items()}
        result["simulator_and_bench"] = round(time.process_time() - self._own, 2)
        return result


@dataclass
class RssSampler:
    """Keeps the high-water mark (``VmHWM``) of a process and of every descendant it saw, looking once per
    ``interval`` (the kernel keeps each process's peak; sampling only finds the processes)."""

    pid: int
    interval: float = 1.0
    peaks: dict[int, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def sample(self) -> None:
        for process in process_tree(self.pid):
            value = peak_rss_kib(process.pid)
            if value is not None:
                with self._lock:
                    self.peaks[process.pid] = max(self.peaks.get(process.pid, 0), value)

    def start(self) -> None:
        self.sample()

        def loop() -> None:
            while not self._stop.wait(self.interval):
                self.sample()

        self._thread = threading.Thread(target=loop, name="bench-rss", daemon=True)
        self._thread.start()

    def stop(self) -> dict[str, Any]:
        """Stop sampling (after one last sample); the sum of the high-water marks, in MiB."""
        if not self._stop.is_set():
            self._stop.set()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self.sample()
        with self._lock:
            total = sum(self.peaks.values())
            return {"peak_rss_mib": round(total / 1024, 1), "processes": len(self.peaks)}
