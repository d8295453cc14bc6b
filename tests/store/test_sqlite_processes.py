"""G1 and G2 across processes sharing one SQLite file, at the store port."""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from refundgate.domain import PayOrder, RefundDraft, RefundRefused, RefundRequest
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
