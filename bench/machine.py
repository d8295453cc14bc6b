"""The machine a result came from, as recorded in results/latest.json."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
from pathlib import Path


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 2**20, 1)
    return 0.0


def _wrk_version() -> str:
    done = subprocess.run(
        ["wrk", "-v"],  # noqa: S607 - wrk from PATH, as the benchmark runs it
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return (done.stdout or done.stderr).splitlines()[0] if (done.stdout or done.stderr) else "?"


def describe() -> dict[str, object]:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "wrk": _wrk_version(),
    }
