"""bench/statements.py times what each side's store really runs, statement by statement."""

from __future__ import annotations

from pathlib import Path

from bench.seed import seed_sqlite

from bench import statements


def test_each_sides_statements_are_named_and_timed(tmp_path: Path) -> None:
    seeded = tmp_path / "seeded.db"
    seed_sqlite(str(seeded), orders=statements.ORDERS, refunds=10)

    product = statements.measure(statements.product_side, seeded, 20)
    ceiling = statements.measure(statements.ceiling_side, seeded, 20)

    # Every statement the stores ran is one the tool knows by name: a renamed or
    # added statement would show up under its first words instead.
    named = set(statements.NAMES.values())
    assert set(product) - {"total"} == {n for n in named if n.startswith("product:")}
    assert set(ceiling) - {"total"} == {n for n in named if n.startswith("ceiling:")} | {
        "SAVEPOINT job",
        "RELEASE job",
    }
    for side in (product, ceiling):
        in_statements = sum(v for k, v in side.items() if k != "total")
        assert 0 < in_statements < side["total"]
