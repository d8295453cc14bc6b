"""The SQLite ceiling's group commit: a refused job rolls back alone, the rest commit.

The ceiling is the benchmark's denominator, not product code; it still must
do the work it is credited with, or the ratio flatters nothing.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from bench.ceiling.sqlite_group import GroupWriter


def _table(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE t (k TEXT PRIMARY KEY)")


def _insert(key: str) -> object:
    return lambda c: c.execute("INSERT INTO t VALUES (?)", (key,)).rowcount


def _keys(path: Path) -> list[str]:
    with sqlite3.connect(path) as connection:
        return [row[0] for row in connection.execute("SELECT k FROM t ORDER BY k")]


@pytest.mark.parametrize("durable", [True, False])
def test_a_batch_commits_its_jobs_and_a_refused_one_changes_nothing(
    tmp_path: Path, durable: bool
) -> None:
    path = tmp_path / "c.db"
    _table(path)

    async def scenario() -> list[object]:
        writer = GroupWriter(str(path))
        jobs = [writer.submit(_insert(k), durable=durable) for k in ("a", "b", "a", "c")]
        return await asyncio.gather(*jobs, return_exceptions=True)

    results = asyncio.run(scenario())
    assert results[:2] == [1, 1]
    assert results[3] == 1
    assert isinstance(results[2], sqlite3.IntegrityError)
    assert _keys(path) == ["a", "b", "c"]  # committed: another connection reads them


def test_jobs_queued_while_a_durable_batch_flushes_run_after_its_commit(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    _table(path)

    def committed_rows(_: sqlite3.Connection) -> int:
        # Another connection sees only what is committed.
        with sqlite3.connect(path) as other:
            return int(other.execute("SELECT count(*) FROM t").fetchone()[0])

    async def scenario() -> tuple[object, object]:
        writer = GroupWriter(str(path))
        first = writer.submit(_insert("a"), durable=True)
        await asyncio.sleep(0)  # the first batch is running: this one waits for it
        second = writer.submit(committed_rows, durable=False)
        return await asyncio.gather(first, second)

    assert asyncio.run(scenario()) == [1, 1]


def test_a_batch_that_cannot_take_the_lock_fails_its_jobs_and_the_next_batch_runs(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.db"
    _table(path)

    async def scenario() -> tuple[list[object], object]:
        writer = GroupWriter(str(path), busy_timeout_ms=20)
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process's write lock
        try:
            jobs = [writer.submit(_insert(k), durable=True) for k in ("a", "b")]
            refused = await asyncio.wait_for(asyncio.gather(*jobs, return_exceptions=True), 5)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        later = await asyncio.wait_for(writer.submit(_insert("c"), durable=True), 5)
        return refused, later

    refused, later = asyncio.run(scenario())
    assert all(isinstance(r, sqlite3.OperationalError) for r in refused), refused
    assert later == 1
    assert _keys(path) == ["c"]  # nothing of the failed batch was kept


def test_a_durable_commit_that_raises_on_the_thread_fails_its_jobs_instead_of_hanging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.db"
    _table(path)

    def broken(results: list[object]) -> list[object]:
        raise sqlite3.OperationalError("disk I/O error")

    async def scenario() -> list[object]:
        writer = GroupWriter(str(path))
        monkeypatch.setattr(writer, "_commit", broken)
        job = writer.submit(_insert("a"), durable=True)
        return await asyncio.wait_for(asyncio.gather(job, return_exceptions=True), 5)

    [result] = asyncio.run(scenario())
    assert isinstance(result, sqlite3.OperationalError)
