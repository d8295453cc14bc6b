"""Profile the product's refund path in-process: the ASGI app, no HTTP server, no wrk.

    .venv/bin/python -m bench.profile_app [--store sqlite|postgresql] [--requests 4000]

Seeds a database like bench/run.py, then drives ``GatewayApp`` directly with
``--concurrency`` tasks under cProfile and prints the top functions by own
time, and the app's CPU per refund. What the HTTP server adds is not here.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import pstats
import tempfile
import time
from pathlib import Path
from typing import Any

import uvloop

from bench.common import refund_body
from bench.procs import database_cpu_s
from bench.seed import seed_postgres, seed_sqlite
from refundgate.bootstrap import build_app, configure_logging
from refundgate.config import Settings


async def _call(app: Any, body: bytes) -> bytes:
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http", "path": "/v1/refund_order", "method": "POST", "query_string": b"",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
    }  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return bytes(sent[1]["body"])


async def _drive(app: Any, bodies: list[bytes], concurrency: int) -> None:
    queue = iter(bodies)

    async def worker() -> None:
        for body in queue:
            answer = await _call(app, body)
            if b'"resCode":"SUCCESS"' not in answer:
                raise RuntimeError(answer[:200])

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", default="sqlite")
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--no-profile", action="store_true", help="CPU per refund only")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/refundgate_bench")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="refundgate-profile-"))
    if args.store == "sqlite":
        url = f"sqlite:///{work / 'p.db'}"
        seed_sqlite(str(work / "p.db"), orders=2000, refunds=1000)
    else:
        url = args.pg  # an empty database, created by the caller
        seed_postgres(url, orders=2000, refunds=1000)
    settings = Settings.from_mapping(
        {"REFUNDGATE_DATABASE_URL": url, "REFUNDGATE_LOG_LEVEL": args.log_level}
    )
    # Measure the logging, not a tty; loggers cached as in a server worker.
    configure_logging(args.log_level, stream=io.StringIO(), cache_loggers=True)
    app = build_app(settings)
    gc.freeze()  # as a server worker does once its app is built
    bodies = [refund_body(f"prof{i:08d}", i % 2000 + 1).encode() for i in range(args.requests)]
    warm, measured = bodies[:200], bodies[200:]
    loop = uvloop.new_event_loop()
    loop.run_until_complete(_drive(app, warm, args.concurrency))
    profiler = cProfile.Profile(
        time.thread_time
    )  # the loop thread only: wall time would blame whatever waited for the GIL
    started, cpu, loop_cpu = time.perf_counter(), time.process_time(), time.thread_time()
    database_cpu = database_cpu_s()
    if not args.no_profile:
        profiler.enable()
    loop.run_until_complete(_drive(app, measured, args.concurrency))
    profiler.disable()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    loop_cpu = time.thread_time() - loop_cpu
    database_cpu = database_cpu_s() - database_cpu
    n = len(measured)
    print(
        f"{n} refunds: {n / wall:.0f}/s wall, CPU each: {cpu / n * 1e6:.0f} µs in all,"
        f" {loop_cpu / n * 1e6:.0f} µs on the loop thread,"
        f" {database_cpu / n * 1e6:.0f} µs in PostgreSQL's processes"
    )
    if not args.no_profile:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        pstats.Stats(profiler).sort_stats("cumtime").print_stats(30)


if __name__ == "__main__":
    main()
