"""The README's table rows, as bench/table.py prints them from a run's JSON."""

from __future__ import annotations

from typing import Any

from bench.table import round_ratios, row


def _figures() -> dict[str, Any]:
    return {
        "refunds_per_s": {"16": 1875},
        "refunds_per_s_by_round": {"16": [1972, 1818, 1875]},
        "p50_ms": {"16": 7.45},
        "p99_ms": {"16": 51.124},
        "ceiling_per_s": {"16": 3736},
        "ceiling_per_s_by_round": {"16": [3736, 3630, 3796]},
        "ratio": {"16": 0.5},
        "cpu_us_per_refund": {"16": 1007},
        "ceiling_cpu_us_per_refund": {"16": 258},
        "database_cpu_us_per_refund": {"16": 738},
        "ceiling_database_cpu_us_per_refund": {"16": 609},
        "machine_busy": {"16": 0.536},
        "rss_mb_by_connections": {"16": 208.96},
    }


def test_a_sqlite_row_has_every_column_and_no_database_cpu() -> None:
    assert row("sqlite", _figures(), "16") == (
        "| sqlite | 16 | 1,875 (1,818–1,972) | 7.45 ms | 51.1 ms | 3,736 (3,630–3,796)"
        " | 0.50 | 1,007 µs (258) | – | 54 % | 209 MB |"
    )


def test_a_postgresql_row_shows_the_databases_cpu_beside_the_ceilings() -> None:
    assert "| 738 µs (609) |" in row("postgresql", _figures(), "16")


def test_round_ratios_pair_each_round_with_its_own_ceiling() -> None:
    assert round_ratios(_figures(), "16") == [0.53, 0.5, 0.49]
