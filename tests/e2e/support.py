"""Helpers for end-to-end tests: the real console script, real processes, real HTTP.

Every server is started in its own session (so it and any uvicorn workers form
one process group that only this module created), with stdout and stderr going
to files (a pipe nobody reads could fill up and stall the server), and is
stopped by :meth:`Servers.close` from a fixture finalizer.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

REFUNDGATE = Path(sys.executable).with_name("refundgate")
CLI_TIMEOUT_S = 30.0
READY_TIMEOUT_S = 60.0  # a loaded 2-core CI machine can take long to import and fork
STOP_TIMEOUT_S = 10.0


def clean_env(**extra: str) -> dict[str, str]:
    """The current environment without any REFUNDGATE_* setting, plus ``extra``.

    Servers run no background jobs unless a test asks (``REFUNDGATE_JOBS="on"``):
    the reconciler would otherwise settle, on its own clock, refunds a test
    expects to find still processing."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("REFUNDGATE_")}
    env["REFUNDGATE_JOBS"] = "off"
    env.update(extra)
    return env


def run_cli(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = CLI_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    """Run ``refundgate ARGS`` to completion (killed past ``timeout``)."""
    return subprocess.run(
        [str(REFUNDGATE), *args],
        cwd=cwd,
        env=dict(env) if env is not None else clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_cli_many(
    commands: Sequence[tuple[Sequence[str], Path, Mapping[str, str] | None]],
) -> list[subprocess.CompletedProcess[str]]:
    """Run independent ``(args, cwd, env)`` commands side by side; results in order."""
    workers = max(2, min(len(commands), (os.cpu_count() or 1) * 2))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run_cli, *args, cwd=cwd, env=env) for args, cwd, env in commands]
        return [future.result() for future in futures]


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """Assert ``result`` failed with exactly one line on stderr; that line."""
    assert result.returncode != 0, f"expected a failure, got 0; stdout={result.stdout!r}"
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{result.stderr}"
    assert lines[0].startswith("refundgate: "), lines[0]
    return lines[0]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def rows(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` on the SQLite file ``db``."""
    connection = sqlite3.connect(db)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


class ServerExited(AssertionError):
    """The server process ended before it was ready."""


@dataclass
class Server:
    """One ``refundgate serve`` process (and its workers)."""

    process: subprocess.Popen[bytes]
    port: int
    stdout_path: Path
    stderr_path: Path
    files: tuple[IO[bytes], IO[bytes]]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stdout(self) -> str:
        return self.stdout_path.read_text("utf-8", errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text("utf-8", errors="replace")

    def wait_ready_or_exit(self, timeout: float = READY_TIMEOUT_S) -> bool:
        """True once /healthz answers 200, False if the process ends first."""
        try:
            self.wait_ready(timeout)
        except ServerExited:
            return False
        return True

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Poll /healthz until it answers 200; fail if the process ends or time runs out."""
        deadline = time.monotonic() + timeout
        last: str = "no answer"
        while time.monotonic() < deadline:
            if _exited(self.process.pid, 0):
                raise ServerExited(f"server exited before being ready:\n{self.stderr()}")
            try:
                response = httpx.get(f"{self.base_url}/healthz", timeout=1.0)
            except httpx.TransportError as exc:
                last = repr(exc)
            else:
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}: {response.text}"
            time.sleep(0.05)
        raise AssertionError(f"server not ready after {timeout} s ({last}):\n{self.stderr()}")


class Servers:
    """Starts servers and makes sure every one of them is stopped."""

    def __init__(self, logs: Path) -> None:
        self._logs = logs
        self._started: list[Server] = []

    def start(
        self,
        *args: str,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        ready: bool = True,
    ) -> Server:
        """Start ``refundgate serve --port PORT ARGS`` and (by default) wait until it is ready."""
        port = port or free_port()
        self._logs.mkdir(parents=True, exist_ok=True)
        name = f"serve-{len(self._started)}-{port}"
        stdout_path = self._logs / f"{name}.out"
        stderr_path = self._logs / f"{name}.err"
        stdout = stdout_path.open("wb")
        stderr = stderr_path.open("wb")
        process = subprocess.Popen(
            [str(REFUNDGATE), "serve", "--port", str(port), *args],
            cwd=cwd,
            env=dict(env) if env is not None else clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
        server = Server(process, port, stdout_path, stderr_path, (stdout, stderr))
        self._started.append(server)
        if ready:
            server.wait_ready()
        return server

    def stop(self, server: Server) -> int:
        """SIGTERM the server and wait; SIGKILL its process group if it does not end.

        The leader is waited for without being reaped first, so its process
        group id cannot have been reused when leftover workers are killed.
        """
        process = server.process
        if process.returncode is None:
            # os.kill, not send_signal: that would reap the leader if it has ended.
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)
            if not _exited(process.pid, STOP_TIMEOUT_S):
                _kill_group(process.pid)
                _exited(process.pid, STOP_TIMEOUT_S)
            _kill_group(process.pid)  # workers that outlived their parent, if any
            process.wait(timeout=STOP_TIMEOUT_S)
        for file in server.files:
            file.close()
        return process.returncode

    def close(self) -> None:
        errors: list[BaseException] = []
        for server in self._started:
            try:
                self.stop(server)
            except Exception as exc:
                errors.append(exc)
        self._started.clear()
        if errors:
            raise errors[0]


def _exited(pid: int, timeout: float) -> bool:
    """Wait until the child ``pid`` has exited, leaving it unreaped (a zombie)."""
    deadline = time.monotonic() + timeout
    while _still_running(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def _still_running(pid: int) -> bool:
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None
    except ChildProcessError:  # already reaped
        return False


def _kill_group(group: int) -> None:
    """SIGKILL what is left of the process group ``group``: a session this module started."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)
