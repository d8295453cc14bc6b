"""G1 and G2 across processes sharing one SQLite file, at the store port."""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from refundgate.domain import PayOrder, RefundDraft, RefundRefused, RefundRequest
from refundgate.store.migrate import upgrade
from refundgate.store.sqlite import SqliteStore
from tests.conftest import MCH_ID, NOW_MS, seed_merchants


async def _reserve(url: str, worker: int, numbers: list[str]) -> list[tuple[str, str, bool]]:
    store = SqliteStore(url)
    answers = []
    try:
        for index, number in enumerate(numbers):
            request = RefundRequest(MCH_ID, number, "P1", 300, "vincent", "127.0.0.1")
            draft = RefundDraft(request, f"W{worker}-{index}", NOW_MS)
            try:
                reservation = await store.reserve(draft)
            except RefundRefused as refused:
                answers.append((number, type(refused).__name__, False))
            else:
                answers.append((number, reservation.refund.refund_order_id, reservation.created))
    finally:
        await store.close()
    return answers


def reserve_in_process(url: str, worker: int, numbers: list[str]) -> list[tuple[str, str, bool]]:
    return asyncio.run(_reserve(url, worker, numbers))


async def test_processes_sharing_the_file_never_over_refund(
    store: SqliteStore, db_path: Path
) -> None:
    await seed_merchants(store)
    await store.add_order(PayOrder(MCH_ID, "P1", "ALIPAY_QR", "CAD", 10_000, NOW_MS))
    url = f"sqlite:///{db_path}"
    # Each of 4 processes asks 25 distinct numbers plus the shared number "SAME".
    plans = [[f"N{w}-{i}" for i in range(25)] + ["SAME"] for w in range(4)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(4, mp_context=context) as pool:
        futures = [pool.submit(reserve_in_process, url, w, plan) for w, plan in enumerate(plans)]
        answers = [answer for future in futures for answer in future.result(timeout=60)]

    created = [a for a in answers if a[2]]
    same = {a[1] for a in answers if a[0] == "SAME" and a[1] != "RefundAmountExceeded"}
    assert len(created) == 33  # 33 × 300 = 9,900 ≤ 10,000 < 34 × 300
    assert len(same) <= 1  # every answer for "SAME" names one refund, or it never fit
    with sqlite3.connect(db_path) as connection:
        reserved, count = connection.execute(
            "SELECT reserved_amount, refund_count FROM pay_orders WHERE pay_order_id = 'P1'"
        ).fetchone()
        rows, total = connection.execute("SELECT count(*), sum(amount) FROM refunds").fetchone()
    assert (reserved, count) == (9_900, 33)
    assert (rows, total) == (33, 9_900)


async def _open_at(path: str, start_at: float) -> None:
    store = SqliteStore(f"sqlite:///{path}")
    try:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        await store.ping()
    finally:
        await store.close()


def open_files_at(plan: list[tuple[str, float]]) -> list[str]:
    """Open each file at its moment; the errors met, as text."""
    errors = []
    for path, start_at in plan:
        try:
            asyncio.run(_open_at(path, start_at))
        except Exception as exc:
            errors.append(repr(exc))
    return errors


def test_processes_opening_a_new_file_at_once_all_get_in(tmp_path: Path) -> None:
    # A freshly migrated file is not in WAL mode yet; six processes switching it at
    # the same instant used to fail about one time in ten with "database is locked".
    files = []
    for trial in range(25):
        path = tmp_path / f"new-{trial}.db"
        upgrade(f"sqlite:///{path}")
        files.append(str(path))
    first = time.time() + 3.0  # after the workers have started
    plan = [(path, first + 0.1 * index) for index, path in enumerate(files)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(6, mp_context=context) as pool:
        results = [pool.submit(open_files_at, plan) for _ in range(6)]
        errors = [error for result in results for error in result.result(timeout=60)]
    assert errors == []
