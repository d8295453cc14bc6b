"""The README's table of a benchmark run, from its JSON.

    .venv/bin/python -m bench.table [bench/results/latest.json]

Prints the Markdown rows the README's performance section shows (one per
store and connection count), then each store's per-round ratios and its
stored-refunds comparison, so the README can be brought in line with a new
run without copying figures by hand.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson

from bench.run import RESULTS

HEADER = (
    "| store | connections | refunds/s (rounds) | p50 | p99 | ceiling/s (rounds) | ratio"
    " | CPU per refund (ceiling's) | PostgreSQL's CPU per refund (ceiling's) | machine busy"
    " | server RSS |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def _spread(values: list[int]) -> str:
    return f"{min(values):,}–{max(values):,}"


def row(store: str, figures: dict[str, Any], connections: str) -> str:
    """One table row: ``figures`` is one store's part of the run's JSON."""
    f, c = figures, connections
    database = "–"  # on SQLite the database works inside the server's process
    if store != "sqlite":
        database_cpu = f["database_cpu_us_per_refund"][c]
        database = f"{database_cpu:,} µs ({f['ceiling_database_cpu_us_per_refund'][c]:,})"
    cells = [
        store,
        c,
        f"{f['refunds_per_s'][c]:,} ({_spread(f['refunds_per_s_by_round'][c])})",
        f"{f['p50_ms'][c]:.3g} ms",
        f"{f['p99_ms'][c]:.3g} ms",
        f"{f['ceiling_per_s'][c]:,} ({_spread(f['ceiling_per_s_by_round'][c])})",
        f"{f['ratio'][c]:.2f}",
        f"{f['cpu_us_per_refund'][c]:,} µs ({f['ceiling_cpu_us_per_refund'][c]:,})",
        database,
        f"{round(f['machine_busy'][c] * 100)} %",
        f"{f['rss_mb_by_connections'][c]:.0f} MB",
    ]
    return "| " + " | ".join(cells) + " |"


def round_ratios(figures: dict[str, Any], connections: str) -> list[float]:
    """Each round's product/ceiling ratio, in the order the rounds ran."""
    pairs = zip(
        figures["refunds_per_s_by_round"][connections],
        figures["ceiling_per_s_by_round"][connections],
        strict=True,
    )
    return [round(product / ceiling, 2) for product, ceiling in pairs]


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS
    run = orjson.loads(path.read_bytes())
    stores = [store for store in ("sqlite", "postgresql") if store in run]
    print(HEADER)
    for store in stores:
        for connections in run[store]["refunds_per_s"]:
            print(row(store, run[store], connections))
    print()
    for store in stores:
        ratios = {c: round_ratios(run[store], c) for c in run[store]["refunds_per_s"]}
        print(f"{store}: rounds' ratios {ratios}; stored refunds {run[store].get('table_size')}")
    print(run.get("machine"))


if __name__ == "__main__":
    main()
