"""Processes the benchmark starts: servers (and their RSS), and wrk runs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LUA = ROOT / "bench" / "wrk" / "post_bodies.lua"


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/refund_order"

    def rss_mb(self) -> float:
        """Resident memory of the server and every process under it, from /proc."""
        return sum(_rss_kb(pid) for pid in _tree(self.process.pid)) / 1024

    def cpu_s(self) -> float:
        """CPU time used so far by the server and every process under it, from /proc."""
        return sum(_cpu_ticks(pid) for pid in _tree(self.process.pid)) / _TICKS

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)  # our own session, started below
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _children(pid: int) -> list[int]:
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        found: list[int] = []
        for task in tasks:
            found += [int(c) for c in (task / "children").read_text().split()]
        return found
    except OSError:
        return []


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo += _children(current)
    return pids


_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_ticks(pid: int) -> int:
    """utime + stime of ``pid`` (all its threads), in clock ticks; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def machine_busy_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of the whole machine so far, from /proc/stat."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle and iowait
    return sum(ticks) - idle, sum(ticks)


def database_cpu_s() -> float:
    """CPU time used so far by every PostgreSQL process (backends, WAL writer,
    checkpointer, autovacuum), from /proc: the database's share of the machine,
    which the server's own CPU leaves out."""
    ticks = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _command(entry) == "postgres":
            ticks += _cpu_ticks(int(entry.name))
    return ticks / _TICKS


def _command(proc: Path) -> str:
    try:
        return (proc / "comm").read_text().strip()
    except OSError:
        return ""


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _check_port_free(port: int) -> None:
    """Refuse to start on a port already served: the readiness check would take
    the old server's answer for the new one's, and the run would measure it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise RuntimeError(f"port {port} is already served (a server from an earlier run?)")


def start(name: str, command: list[str], *, port: int, env: dict[str, str], logs: Path) -> Server:
    _check_port_free(port)
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - commands built here, not input
            command, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    server = Server(name, process, port, log)
    _wait_ready(server)
    return server


def _wait_ready(server: Server) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited; see {server.log}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answers, even if not this route
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{server.name} did not answer within 60 s; see {server.log}")


def wrk(url: str, *, connections: int, seconds: float, bodies: Path) -> dict[str, float]:
    """One ``wrk -t1`` run walking ``bodies``; its summary from the Lua script's JSON line."""
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
        "-s", str(LUA), url,
    ]  # fmt: skip
    done = subprocess.run(  # noqa: S603 - commands built here, not input
        command, env={**os.environ, "BODIES_FILE": str(bodies)}, capture_output=True,
        text=True, check=False,
    )  # fmt: skip
    for line in done.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            result: dict[str, float] = json.loads(line[len("WRK_JSON ") :])
            result["per_s"] = result["requests"] / (result["duration_us"] / 1e6)
            return result
    raise RuntimeError(f"wrk gave no summary: {done.stdout[-500:]} {done.stderr[-500:]}")


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])
