"""The benchmark's process accounting: CPU time of a server's process tree."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import procs

#: A child that burns about 0.3 s of CPU, then waits to be killed.
_CHILD = (
    "import time\nend = time.process_time() + 0.3\n"
    "while time.process_time() < end: pass\ntime.sleep(60)"
)
_PARENT = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {_CHILD!r}])"


def test_cpu_time_counts_every_process_under_the_server(tmp_path: Path) -> None:
    # The parent only waits: the CPU time is its child's, and the tree must count it.
    process = subprocess.Popen([sys.executable, "-c", _PARENT], start_new_session=True)
    server = procs.Server("test", process, 0, tmp_path / "log")
    try:
        deadline = time.monotonic() + 10
        while server.cpu_s() < 0.25 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.cpu_s() >= 0.25
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_machine_busy_ticks_count_our_own_work_within_the_total() -> None:
    busy, total = procs.machine_busy_ticks()
    end = time.process_time() + 0.2
    while time.process_time() < end:  # 0.2 s of this process's CPU
        pass
    busy_after, total_after = procs.machine_busy_ticks()
    ticks = os.sysconf("SC_CLK_TCK")
    assert busy_after - busy >= 0.1 * ticks
    assert busy_after - busy <= total_after - total


def test_a_server_is_not_started_on_a_port_another_one_serves(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(RuntimeError, match="already served"):
            procs.start("late", [sys.executable, "-c", "pass"], port=port, env={}, logs=tmp_path)
    assert not (tmp_path / "late.log").exists()  # nothing was started
