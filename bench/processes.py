"""The bench's own processes (serve, the bare app, the job loop): started in sessions of their own, stopped
with their children, and their memory and CPU read from /proc. Linux only, as the bench is."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Processes:
    """What this run starts, each in a session of its own so that stopping it stops its children too.

    They run in `folder`: no program.yml or .env of the developer's checkout applies to them."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.started = folder, []

    def start(self, command: list[str], env: dict, log: Path, port: int | None = None) -> subprocess.Popen:
        """Start a process (output to a file, never a pipe nobody reads); wait until /healthz answers."""
        with log.open("wb") as output:
            process = subprocess.Popen(command, env=env, cwd=self.folder, stdout=output, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        self.started.append(process)
        deadline = time.monotonic() + 60
        while port is not None:
            try:
                requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except requests.RequestException:  # not listening yet, or busy starting
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{command} did not start: {log.read_text(errors='replace')[-2000:]}")
                time.sleep(0.1)
        return process

    def stop(self, process: subprocess.Popen) -> None:
        """SIGTERM to the process and its children (serve's worker), SIGKILL to whatever is left after a while."""
        _signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + 5
        while _signal_group(process.pid, 0) and time.monotonic() < deadline:
            time.sleep(0.1)
        _signal_group(process.pid, signal.SIGKILL)
        process.wait()

    def stop_all(self) -> None:
        for process in reversed(self.started):
            self.stop(process)


def _signal_group(pgid: int, signum: int) -> bool:
    """Signal the process group a started process leads; False once nothing in it is left."""
    try:
        os.killpg(pgid, signum)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int | str) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def machine_busy_seconds() -> float:
    """CPU time spent by everything on the machine (other people's work included)."""
    ticks = [int(t) for t in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def by_role(started: dict[str, int]) -> dict[str, list[int]]:
    """What this run started, plus serve's children: its background worker and multiprocessing's tracker."""
    found = {role: [pid] for role, pid in started.items()}
    for child in children(started["serve"]):
        try:
            worker = b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        found.setdefault("worker" if worker else "other", []).append(child)
    return found


def memory(started: dict[str, int]) -> dict[str, float]:
    """Resident MB by role."""
    return {role: sum(rss_mb(pid) for pid in pids) for role, pids in by_role(started).items()}


def cpu(started: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far by role, this process's ("Slack") and the whole machine's."""
    found = {role: sum(cpu_seconds(pid) for pid in pids) for role, pids in by_role(started).items()}
    return {**found, "Slack (this process)": cpu_seconds("self"), "machine": machine_busy_seconds(),
            "wall": time.monotonic()}
