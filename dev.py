#!/usr/bin/env python3
"""Set up and run refundgate with nothing but Python 3.11+.

    python3 dev.py run [serve options]  set up .venv, run the gateway (SQLite, sandbox, demo data)
    python3 dev.py test [pytest args]   set up .venv with dev tools, run every check and every test
    python3 dev.py check                the static checks only (ruff, mypy strict, import-linter)
    python3 dev.py bench [--quick] [...] set up .venv with the bench tools (and wrk), run the
                                        benchmark: refunds/s against the ceiling, both stores

The virtual environment is (re)installed only when pyproject.toml changed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".refundgate-installed"


def _run(*command: str | Path) -> None:
    completed = subprocess.run([str(part) for part in command], cwd=ROOT, check=False)
    if completed.returncode != 0:
        sys.exit(completed.returncode)


def _extras(extras: str) -> set[str]:
    """``"[dev,bench]"`` → ``{"dev", "bench"}``."""
    return {name for name in extras.strip("[]").split(",") if name}


def ensure_environment(extras: str) -> None:
    """Create .venv and install the project (editable) with ``extras``."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this file runs before the venv exists
        sys.exit("refundgate needs Python 3.11 or newer")
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    installed = STAMP.read_text().split(":") if STAMP.exists() else []
    if installed[:1] == [digest] and _extras(extras) <= _extras("".join(installed[1:])):
        return  # already installed with these extras (or more)
    if not (BIN / "python").exists():
        print("creating .venv …", flush=True)
        venv.create(VENV, with_pip=True)
    print(f"installing refundgate{extras} into .venv …", flush=True)
    _run(BIN / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--editable", f".{extras}")  # fmt: skip
    STAMP.write_text(f"{digest}:{extras}")


def check() -> None:
    _run(BIN / "ruff", "format", "--check", "src", "tests", "dev.py")
    _run(BIN / "ruff", "check", "src", "tests", "dev.py")
    _run(BIN / "mypy")
    _run(BIN / "lint-imports")


def ensure_wrk() -> None:
    """The load generator: installed with apt-get when missing (Debian, Ubuntu)."""
    if shutil.which("wrk"):
        return
    print("wrk is missing: apt-get install -y wrk …", flush=True)
    apt = ["apt-get", "install", "-y", "wrk"]
    if os.geteuid() != 0:
        apt = ["sudo", "-n", *apt]
    if subprocess.run(apt, check=False).returncode != 0 or not shutil.which("wrk"):
        sys.exit("could not install wrk; install it (e.g. `sudo apt-get install wrk`) and rerun")


def main(argv: list[str]) -> None:
    command, rest = (argv[0], argv[1:]) if argv else ("help", [])
    if command == "run":
        ensure_environment("")
        os.execv(BIN / "refundgate", [str(BIN / "refundgate"), "serve", *rest])
    elif command in ("test", "check"):
        ensure_environment("[dev]")
        check()
        if command == "test":
            _run(BIN / "pytest", *rest)
    elif command == "bench":
        ensure_environment("[dev,bench]")
        ensure_wrk()
        _run(BIN / "python", "-m", "bench.run", *rest)
    else:
        print(__doc__)
        sys.exit(0 if command in ("help", "-h", "--help") else 2)


if __name__ == "__main__":
    main(sys.argv[1:])
