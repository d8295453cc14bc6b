"""How the benchmark turns several rounds of runs into its figures."""

from __future__ import annotations

from typing import Any

import pytest
from bench.run import _median_run, _paired_ratio, _summary


def _run(per_s: float, p99_ms: float = 10.0, database_cpu_us: int = 400) -> dict[str, Any]:
    return {
        "per_s": per_s, "p50_us": p99_ms * 500, "p99_us": p99_ms * 1000, "rss_mb": 100.0,
        "refused": 0, "errors": 0, "loadavg_before": 1.0, "cpu_us_per_refund": 300,
        "database_cpu_us_per_refund": database_cpu_us, "machine_busy": 0.5,
    }  # fmt: skip


def test_the_median_run_is_the_middle_one_by_rate_and_keeps_its_own_figures() -> None:
    runs = [_run(900, p99_ms=30), _run(1_000, p99_ms=12), _run(2_000, p99_ms=8)]
    assert _median_run(runs)["p99_us"] == 12_000
    assert _median_run(runs[:2])["per_s"] == 900  # even count: the lower middle


def test_the_ratio_pairs_each_round_and_takes_the_median() -> None:
    # A slow round drags both sides: paired, it does not move the ratio; the
    # ratio of the sides' separate medians would be 1,000 / 2,000 = 0.5.
    runs = {
        "product": [_run(1_000), _run(500), _run(1_500)],
        "ceiling": [_run(2_500), _run(625), _run(2_000)],
    }
    assert _paired_ratio(runs) == pytest.approx(0.75)


def test_the_ratio_needs_as_many_ceiling_runs_as_product_runs() -> None:
    with pytest.raises(ValueError, match="shorter"):
        _paired_ratio({"product": [_run(1)], "ceiling": []})


def test_the_summary_reports_each_round_and_the_median_runs() -> None:
    runs = {
        16: {
            "product": [
                _run(1_000, p99_ms=20, database_cpu_us=500),
                _run(1_200, p99_ms=15),
                _run(800, p99_ms=40),
            ],
            "ceiling": [_run(1_250, database_cpu_us=350), _run(1_500), _run(1_000)],
        }
    }
    summary = _summary(runs)
    assert summary["rounds"] == 3
    assert summary["refunds_per_s"] == {"16": 1_000}
    assert summary["p99_ms"] == {"16": 20.0}
    assert summary["ceiling_per_s"] == {"16": 1_250}
    assert summary["ratio"] == {"16": 0.8}
    assert summary["refunds_per_s_by_round"] == {"16": [1_000, 1_200, 800]}
    assert summary["ceiling_per_s_by_round"] == {"16": [1_250, 1_500, 1_000]}
    # PostgreSQL's own CPU, each side's from its median run
    assert summary["database_cpu_us_per_refund"] == {"16": 500}
    assert summary["ceiling_database_cpu_us_per_refund"] == {"16": 350}
