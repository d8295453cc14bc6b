"""Where the benchmark writes its figures."""

from __future__ import annotations

from pathlib import Path

from bench.run import QUICK_RESULTS, RESULTS, _arguments


def test_a_quick_run_never_writes_over_the_full_runs_figures() -> None:
    # latest.json is committed with the README's figures; a smoke test must not replace it.
    assert _arguments(["--quick"]).output == QUICK_RESULTS
    assert QUICK_RESULTS != RESULTS
    assert _arguments([]).output == RESULTS


def test_an_output_named_is_used_either_way(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    assert _arguments(["--quick", "--output", str(target)]).output == target
    assert _arguments(["--output", str(target)]).output == target
