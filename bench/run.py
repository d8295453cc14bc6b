"""The benchmark: refundgate's refunds/s against this stack's own ceiling, on both stores.

    python3 dev.py bench [--quick] [--stores sqlite,postgresql] [--seconds 10] ...

For each store: seed one merchant and N paid orders, start the ceiling
(bench/ceiling, granian RSGI) and ``refundgate serve`` on the same database,
then for each connection count run wrk against the ceiling and the product
back to back, each with its own file of pre-signed bodies (every refund number
used once). Then reseed with a large refunds table and measure both again at
16 connections. Prints a table; writes bench/results/latest.json.

With ``--rounds N`` every measurement is made N times, the two sides in turn
(which one goes first alternates). Each side reports its median run, and the
ratio is the median of the rounds' ratios: a pair measured a minute apart
shares the machine's mood, which on a shared VM moves by 15 % and more.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

from bench import machine, procs
from bench.common import write_bodies
from bench.seed import seed_postgres, seed_sqlite

RESULTS = procs.ROOT / "bench" / "results" / "latest.json"
#: Where a quick run writes unless told: never over the committed full run's figures.
QUICK_RESULTS = RESULTS.with_name("quick.json")
BODIES_PER_S = 12_000  # above any rate seen here (9k/s), so that no body repeats


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="dev.py bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small and short: a smoke test")
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--connections", default="1,16,64")
    parser.add_argument("--seconds", type=float, default=None, help="per run (10; quick 2)")
    parser.add_argument("--rounds", type=int, default=None, help="of every run (3; quick 1)")
    parser.add_argument("--orders", type=int, default=None, help="paid orders (100000; quick 2000)")
    parser.add_argument("--refunds", type=int, default=1_000, help="refunds stored beforehand")
    parser.add_argument(
        "--large-refunds", type=int, default=None, help="the large table (10^6; quick 0 = skip)"
    )
    parser.add_argument("--workers", type=int, default=1, help="refundgate serve --workers")
    parser.add_argument(
        "--server",
        default="granian",
        choices=["granian", "uvicorn"],
        help="refundgate serve --server",
    )
    parser.add_argument("--log-level", default="info", help="the product's REFUNDGATE_LOG_LEVEL")
    parser.add_argument("--pg-server", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument(
        "--output", type=Path, default=None, help="JSON (latest.json; quick: quick.json)"
    )
    args = parser.parse_args(argv)
    args.output = args.output or (QUICK_RESULTS if args.quick else RESULTS)
    args.seconds = args.seconds or (2.0 if args.quick else 10.0)
    args.rounds = max(1, args.rounds or (1 if args.quick else 3))
    args.orders = args.orders or (2_000 if args.quick else 100_000)
    if args.large_refunds is None:
        args.large_refunds = 0 if args.quick else 1_000_000
    args.connections = [int(c) for c in args.connections.split(",")]
    return args


class Store:
    """One store under test: how to (re)create its database and name it."""

    def __init__(self, name: str, args: argparse.Namespace, work: Path) -> None:
        self.name, self.args, self.work = name, args, work
        self.pg_db = f"refundgate_bench_{os.getpid()}"  # runs side by side do not collide

    @property
    def product_url(self) -> str:
        if self.name == "sqlite":
            return f"sqlite:///{self.work / 'bench.db'}"
        return f"{self.args.pg_server}/{self.pg_db}"

    @property
    def ceiling_target(self) -> str:
        return str(self.work / "bench.db") if self.name == "sqlite" else self.product_url

    def available(self) -> str | None:
        """Why this store cannot be measured, or None."""
        if self.name == "sqlite":
            return None
        try:
            asyncio.run(self._admin("SELECT 1"))
        except (OSError, asyncpg.PostgresError) as exc:
            return f"PostgreSQL at {self.args.pg_server} is not reachable ({exc})"
        return None

    async def _admin(self, *statements: str) -> None:
        connection = await asyncpg.connect(f"{self.args.pg_server}/postgres", timeout=5)
        try:
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()

    def reseed(self, refunds: int) -> None:
        if self.name == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                (self.work / f"bench.db{suffix}").unlink(missing_ok=True)
            seed_sqlite(str(self.work / "bench.db"), orders=self.args.orders, refunds=refunds)
        else:
            self.drop()
            asyncio.run(self._admin(f"CREATE DATABASE {self.pg_db}"))
            seed_postgres(self.product_url, orders=self.args.orders, refunds=refunds)
        # The seed's hundreds of MB reach the disk now, not as write-back that
        # slows the measured runs' flushes (it did: p99 70 ms on both sides).
        os.sync()

    def drop(self) -> None:
        if self.name == "postgresql":
            asyncio.run(self._admin(f"DROP DATABASE IF EXISTS {self.pg_db} WITH (FORCE)"))


def _servers(store: Store, args: argparse.Namespace, logs: Path) -> dict[str, procs.Server]:
    pool = {"REFUNDGATE_DB_POOL_SIZE": "16"}
    product = procs.start(
        f"{store.name}-product",
        [str(procs.BIN / "refundgate"), "serve", "--port", str(args.port),
         "--workers", str(args.workers), "--server", args.server,
         "--database-url", store.product_url],
        port=args.port, env={"REFUNDGATE_LOG_LEVEL": args.log_level, **pool}, logs=logs,
    )  # fmt: skip
    try:
        ceiling = procs.start(
            f"{store.name}-ceiling",
            [str(procs.BIN / "granian"), "--interface", "rsgi", "--host", "127.0.0.1",
             "--port", str(args.port + 1), "--workers", "1", "--loop", "uvloop", "--http", "1",
             "--no-ws", "--log-level", "warning", "--no-access-log", "bench.ceiling.app:app"],
            port=args.port + 1, env={"CEILING_DATABASE": store.ceiling_target}, logs=logs,
        )  # fmt: skip
    except BaseException:  # a server left running would answer the next run on its port
        product.stop()
        raise
    return {"product": product, "ceiling": ceiling}


def _measure(server: procs.Server, connections: int, args: argparse.Namespace) -> dict[str, Any]:
    work = Path(args.work)
    tag = f"{server.name[0]}{server.name.split('-')[1][0]}{connections}t{time.time_ns() % 10**9}"
    warm, bodies = work / "warm.txt", work / "bodies.txt"
    write_bodies(warm, BODIES_PER_S * 2, tag=tag + "w", orders=args.orders)
    procs.wrk(server.url, connections=connections, seconds=1, bodies=warm)
    write_bodies(bodies, int(BODIES_PER_S * args.seconds) + 1000, tag=tag + "m", orders=args.orders)
    load = procs.loadavg()
    cpu, (busy, total) = server.cpu_s(), procs.machine_busy_ticks()
    database_cpu = procs.database_cpu_s()
    result = procs.wrk(server.url, connections=connections, seconds=args.seconds, bodies=bodies)
    # CPU per refund moves far less between runs than refunds/s does: the
    # server's own (every thread and process of it; a database server's not),
    # PostgreSQL's (on SQLite the database is inside the server), and how busy
    # the whole machine was (wrk and any database included).
    cpu = server.cpu_s() - cpu
    database_cpu = procs.database_cpu_s() - database_cpu
    busy_after, total_after = procs.machine_busy_ticks()
    refunds = max(result["requests"], 1)
    result["cpu_us_per_refund"] = round(cpu / refunds * 1e6)
    result["database_cpu_us_per_refund"] = round(database_cpu / refunds * 1e6)
    result["machine_busy"] = round((busy_after - busy) / max(total_after - total, 1), 2)
    result["rss_mb"] = round(server.rss_mb(), 1)
    result["loadavg_before"] = load
    return result


def _line(store: str, what: str, c: int, r: dict[str, Any]) -> None:
    print(
        f"{store:10} {what:8} c={c:<3} {r['per_s']:8.0f}/s  p50 {r['p50_us'] / 1000:6.2f} ms"
        f"  p99 {r['p99_us'] / 1000:6.2f} ms  refused {r['refused']:<4} errors {r['errors']:<3}"
        f" rss {r['rss_mb']:6.1f} MB  cpu {r['cpu_us_per_refund']:4d} µs/refund"
        f" (db {r['database_cpu_us_per_refund']:4d})"
        f"  busy {r['machine_busy']:.0%}  load {r['loadavg_before']:.1f}"
        + ("  WRAPPED" if r["wrapped"] else ""),
        flush=True,
    )


Runs = dict[str, list[dict[str, Any]]]  # by side ("ceiling", "product"): one run per round


def _rounds(
    servers: dict[str, procs.Server], store: str, c: int, args: argparse.Namespace, runs: Runs
) -> None:
    """Measure both sides ``args.rounds`` times at ``c`` connections, in turn."""
    for round_ in range(args.rounds):
        sides = ("ceiling", "product") if round_ % 2 == 0 else ("product", "ceiling")
        for what in sides:
            runs[what].append(_measure(servers[what], c, args))
            _line(store, what, c, runs[what][-1])


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median refunds/s (the lower middle one of an even count)."""
    return sorted(runs, key=lambda r: r["per_s"])[(len(runs) - 1) // 2]


def _paired_ratio(runs: Runs) -> float:
    """The median of the rounds' product/ceiling ratios."""
    pairs = zip(runs["product"], runs["ceiling"], strict=True)
    ratios = [product["per_s"] / ceiling["per_s"] for product, ceiling in pairs]
    return float(statistics.median(ratios))


def _run_store(store: Store, args: argparse.Namespace, logs: Path) -> dict[str, Any]:
    store.reseed(args.refunds)
    by_connections: dict[int, Runs] = {c: {"ceiling": [], "product": []} for c in args.connections}
    servers = _servers(store, args, logs)
    try:
        for c in args.connections:
            _rounds(servers, store.name, c, args, by_connections[c])
    finally:
        for server in servers.values():
            server.stop()
    summary = _summary(by_connections)
    if args.large_refunds:
        summary["table_size"] = _table_size(store, args, logs, by_connections)
    return summary


def _table_size(
    store: Store, args: argparse.Namespace, logs: Path, small: dict[int, Runs]
) -> dict[str, Any]:
    c = 16 if 16 in args.connections else args.connections[-1]
    store.reseed(args.large_refunds)
    large: Runs = {"ceiling": [], "product": []}
    servers = _servers(store, args, logs)
    try:
        _rounds(servers, store.name, c, args, large)
    finally:
        for server in servers.values():
            server.stop()
    before = {what: _median_run(small[c][what]) for what in ("ceiling", "product")}
    after = {what: _median_run(large[what]) for what in ("ceiling", "product")}
    return {
        "connections": c,
        "small_refunds": args.refunds,
        "large_refunds": args.large_refunds,
        "product_per_s": {"small": round(before["product"]["per_s"]),
                          "large": round(after["product"]["per_s"])},
        "ceiling_per_s": {"small": round(before["ceiling"]["per_s"]),
                          "large": round(after["ceiling"]["per_s"])},
        "product_p99_ms": {"small": before["product"]["p99_us"] / 1000,
                           "large": after["product"]["p99_us"] / 1000},
        "change": round(after["product"]["per_s"] / before["product"]["per_s"] - 1, 3),
        "ceiling_change": round(after["ceiling"]["per_s"] / before["ceiling"]["per_s"] - 1, 3),
    }  # fmt: skip


def _summary(by_connections: dict[int, Runs]) -> dict[str, Any]:
    """Each side's median run per connection count, and the paired ratio."""
    product = {c: _median_run(runs["product"]) for c, runs in by_connections.items()}
    ceiling = {c: _median_run(runs["ceiling"]) for c, runs in by_connections.items()}
    keyed = lambda f: {str(c): f(c) for c in product}  # noqa: E731
    return {
        "refunds_per_s": keyed(lambda c: round(product[c]["per_s"])),
        "p50_ms": keyed(lambda c: round(product[c]["p50_us"] / 1000, 2)),
        "p99_ms": keyed(lambda c: round(product[c]["p99_us"] / 1000, 2)),
        "ceiling_per_s": keyed(lambda c: round(ceiling[c]["per_s"])),
        "ratio": keyed(lambda c: round(_paired_ratio(by_connections[c]), 2)),
        "rounds": len(next(iter(by_connections.values()))["product"]),
        "refunds_per_s_by_round": keyed(
            lambda c: [round(r["per_s"]) for r in by_connections[c]["product"]]
        ),
        "ceiling_per_s_by_round": keyed(
            lambda c: [round(r["per_s"]) for r in by_connections[c]["ceiling"]]
        ),
        "rss_mb": max(product[c]["rss_mb"] for c in product),
        "rss_mb_by_connections": keyed(lambda c: product[c]["rss_mb"]),
        "ceiling_p50_ms": keyed(lambda c: round(ceiling[c]["p50_us"] / 1000, 2)),
        "ceiling_p99_ms": keyed(lambda c: round(ceiling[c]["p99_us"] / 1000, 2)),
        "refused_or_failed": keyed(lambda c: product[c]["refused"] + product[c]["errors"]),
        "ceiling_refused_or_failed": keyed(lambda c: ceiling[c]["refused"] + ceiling[c]["errors"]),
        "loadavg_before": keyed(lambda c: product[c]["loadavg_before"]),
        "cpu_us_per_refund": keyed(lambda c: product[c]["cpu_us_per_refund"]),
        "ceiling_cpu_us_per_refund": keyed(lambda c: ceiling[c]["cpu_us_per_refund"]),
        "database_cpu_us_per_refund": keyed(lambda c: product[c]["database_cpu_us_per_refund"]),
        "ceiling_database_cpu_us_per_refund": keyed(
            lambda c: ceiling[c]["database_cpu_us_per_refund"]
        ),
        "machine_busy": keyed(lambda c: product[c]["machine_busy"]),
        "ceiling_machine_busy": keyed(lambda c: ceiling[c]["machine_busy"]),
    }


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    work = Path(tempfile.mkdtemp(prefix="refundgate-bench-"))
    args.work = str(work)
    logs = work / "logs"
    logs.mkdir()
    report: dict[str, Any] = {
        "machine": machine.describe(),
        "settings": {
            "quick": args.quick, "seconds": args.seconds, "orders": args.orders,
            "refunds": args.refunds, "workers": args.workers, "log_level": args.log_level,
            "rounds": args.rounds,
            "product": f"refundgate serve --server {args.server} --workers {args.workers}"
            " (pool 16 on PG)",
            "ceiling": "bench/ceiling/app.py on granian RSGI, 1 worker",
            "load": "wrk -t1, unique pre-signed bodies (bench/wrk/post_bodies.lua)",
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    }  # fmt: skip
    try:
        for name in args.stores.split(","):
            store = Store(name, args, work)
            reason = store.available()
            if reason:
                print(f"{name}: skipped: {reason}", flush=True)
                report[name] = {"skipped": reason}
                continue
            try:
                report[name] = _run_store(store, args, logs)
            finally:
                store.drop()
    finally:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2) + "\n")
        shutil.rmtree(work, ignore_errors=True)
    _print_table(report)
    print(f"written: {args.output}")


def _print_table(report: dict[str, Any]) -> None:
    print(f"\n{'store':10} {'conns':>5} {'refunds/s':>10} {'p50 ms':>8} {'p99 ms':>8}"
          f" {'ceiling/s':>10} {'ratio':>6} {'RSS MB':>7}")  # fmt: skip
    for name in ("sqlite", "postgresql"):
        s = report.get(name, {})
        for c in s.get("refunds_per_s", {}):
            print(
                f"{name:10} {c:>5} {s['refunds_per_s'][c]:>10} {s['p50_ms'][c]:>8} "
                f"{s['p99_ms'][c]:>8} {s['ceiling_per_s'][c]:>10} {s['ratio'][c]:>6} "
                f"{s['rss_mb_by_connections'][c]:>7}"
            )
        if "table_size" in s:
            t = s["table_size"]
            print(f"{name:10} table size: {t['small_refunds']} refunds -> "
                  f"{t['product_per_s']['small']}/s; {t['large_refunds']} -> "
                  f"{t['product_per_s']['large']}/s ({t['change']:+.1%};"
                  f" the ceiling {t['ceiling_change']:+.1%})")  # fmt: skip


if __name__ == "__main__":
    main()
