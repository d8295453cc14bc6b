"""What only the PostgreSQL store has: rules in SQL, a pool, a server that can go away."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import asyncpg
import pytest
from hypothesis import given, settings

from refundgate.domain import PayOrder, RefundDraft, RefundRequest, RefundStatus
from refundgate.domain.merchant import Merchant
from refundgate.domain.model import BalanceChange
from refundgate.domain.secret import Secret
from refundgate.ports import AdminStore, StoreError, Transition
from refundgate.store import postgres as postgres_module
from refundgate.store.postgres import _RESERVE, PostgresStore
from refundgate.store.refund_rules import reservation_arguments
from tests.backends import Backend, truncate
from tests.conftest import MCH_ID, NOW_MS, seed_merchants
from tests.store.rule_cases import domain_allows, orders_and_drafts


@pytest.fixture(scope="module")
def sql_session(pg_url: str) -> Iterator[tuple[asyncio.AbstractEventLoop, asyncpg.Connection]]:
    """One connection with both merchants, for many examples on their own loop."""
    loop = asyncio.new_event_loop()
    loop.run_until_complete(truncate(pg_url))
    store = PostgresStore(pg_url)
    loop.run_until_complete(seed_merchants(store))
    loop.run_until_complete(store.close())
    connection = loop.run_until_complete(asyncpg.connect(pg_url))
    yield loop, connection
    loop.run_until_complete(connection.close())
    loop.close()


async def _sql_reserves(
    connection: asyncpg.Connection, order: PayOrder, draft: RefundDraft
) -> bool:
    """Whether the one-statement reservation reserves ``draft``; nothing is kept."""
    transaction = connection.transaction()
    await transaction.start()
    try:
        await connection.execute(
            "INSERT INTO pay_orders (mch_id, pay_order_id, channel_id, currency, amount, paid_at,"
            " status, refunded_amount, reserved_amount, refund_count, last_refund_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            order.mch_id, order.pay_order_id, order.channel_id, order.currency, order.amount,
            order.paid_at, order.status.value, order.refunded_amount, order.reserved_amount,
            order.refund_count, order.last_refund_at,
        )  # fmt: skip
        return await connection.fetchrow(_RESERVE, *reservation_arguments(draft)) is not None
    finally:
        await transaction.rollback()


@settings(max_examples=400)
@given(case=orders_and_drafts())
def test_the_sql_rules_are_the_domain_rules(
    sql_session: tuple[asyncio.AbstractEventLoop, asyncpg.Connection],
    case: tuple[PayOrder, RefundDraft],
) -> None:
    loop, connection = sql_session
    order, draft = case
    allowed = domain_allows(order, draft)
    assert loop.run_until_complete(_sql_reserves(connection, order, draft)) is allowed


@pytest.fixture
async def pg(pg_url: str) -> Backend:
    await truncate(pg_url)
    return Backend("postgresql", pg_url)


async def _seeded(backend: Backend) -> AdminStore:
    store = backend.open()
    await seed_merchants(store)
    await store.add_order(PayOrder(MCH_ID, "P1", "ALIPAY_QR", "CAD", 10_000, NOW_MS))
    return store


def _draft(number: str, amount: int = 100) -> RefundDraft:
    request = RefundRequest(MCH_ID, number, "P1", amount, "vincent", "127.0.0.1")
    return RefundDraft(request, f"RID-{number}", NOW_MS)


async def test_sql_rules_that_refuse_what_the_domain_allows_are_a_store_error(
    pg: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Were the SQL and the domain's rules ever to disagree, the refund is not
    reserved, and the disagreement is an error, not a refusal told to the merchant."""
    store = await _seeded(pg)
    never = postgres_module._RESERVE.replace("WHERE o.mch_id = $1", "WHERE false AND o.mch_id = $1")
    assert never != postgres_module._RESERVE
    monkeypatch.setattr(postgres_module, "_RESERVE", never)
    try:
        with pytest.raises(StoreError, match="SQL refused what the domain allows"):
            await store.reserve(_draft("N1"))
        assert await store.find_refund(MCH_ID, mch_refund_no="N1") is None
        order = await store.get_order(MCH_ID, "P1")
        assert order is not None
        assert (order.reserved_amount, order.refund_count) == (0, 0)
    finally:
        await store.close()


async def _kill_connections(backend: Backend) -> int:
    rows = await backend.fetch(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    return len(rows)


async def test_killed_connections_give_a_store_error_then_service_resumes(pg: Backend) -> None:
    store = await _seeded(pg)
    try:
        await store.reserve(_draft("BEFORE"))
        assert await _kill_connections(pg) >= 1
        outcomes: list[str] = []
        for i in range(5):  # the pool replaces what it lost, by itself
            try:
                await store.reserve(_draft(f"AFTER-{i}"))
                outcomes.append("ok")
            except StoreError:
                outcomes.append("store error")
        assert outcomes[-1] == "ok", outcomes
        numbers = [row[0] for row in await pg.fetch("SELECT mch_refund_no FROM refunds")]
        accepted = ["BEFORE"] + [f"AFTER-{i}" for i, o in enumerate(outcomes) if o == "ok"]
        assert sorted(numbers) == sorted(accepted)  # a failed call left nothing behind
        assert await pg.balances("P1") == (0, 100 * len(accepted), len(accepted))
    finally:
        await store.close()


async def test_a_transition_cut_off_changes_nothing(pg: Backend) -> None:
    store = await _seeded(pg)
    try:
        await store.reserve(_draft("N1"))
        before = await pg.snapshot()
        await _kill_connections(pg)
        done = Transition(RefundStatus.SUCCEEDED, NOW_MS, "ok")
        try:
            await store.transition("RID-N1", done)
        except StoreError:
            assert await pg.snapshot() == before
        applied = await store.transition("RID-N1", done)  # the pool reconnects
        assert applied.status is RefundStatus.SUCCEEDED
        assert await pg.balances("P1") == (100, 0, 1)
    finally:
        await store.close()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres@127.0.0.1:1/refundgate",  # nothing listens on port 1
        "postgresql://postgres:s3cret-pw@127.0.0.1:1/refundgate",
    ],
)
async def test_an_unreachable_server_is_a_clear_store_error(url: str) -> None:
    store = PostgresStore(url, connect_timeout_s=2)
    try:
        with pytest.raises(StoreError, match=r"postgresql: .*(refused|Connect)") as caught:
            await store.ping()
        with pytest.raises(StoreError):
            await store.migrate()
        with pytest.raises(StoreError):
            await store.reserve(_draft("N1"))
    finally:
        await store.close()
    assert "s3cret-pw" not in str(caught.value)
    assert "s3cret-pw" not in repr(store)


async def test_a_missing_database_is_a_clear_store_error(pg_url: str) -> None:
    store = PostgresStore(pg_url.rsplit("/", 1)[0] + "/refundgate_no_such_db")
    try:
        with pytest.raises(StoreError, match="does not exist"):
            await store.migrate()
    finally:
        await store.close()


async def test_outcome_commits_alone_are_relaxed(pg: Backend) -> None:
    """The reservation waits for the WAL flush; the outcome commit does not."""
    store = await _seeded(pg)
    seen: list[str] = []
    try:
        await store.reserve(_draft("N1"))
        pool = await store._get_pool()  # the store's own connections, to watch them
        for holder in pool._holders:
            if holder._con is not None:
                holder._con.add_query_logger(lambda record: seen.append(record.query))
        await store.reserve(_draft("N2"))
        assert not any("synchronous_commit" in query for query in seen)
        await store.transition("RID-N1", Transition(RefundStatus.SUCCEEDED, NOW_MS, "ok"))
        relaxed = [query for query in seen if "synchronous_commit" in query]
        assert len(relaxed) == 1  # the outcome: one statement, relaxed for itself alone
        assert "set_config('synchronous_commit', 'off', true)" in relaxed[0]
        assert await pg.fetch("SHOW synchronous_commit") == [("on",)]
    finally:
        await store.close()


async def test_a_merchant_added_on_one_store_is_seen_by_another(pg: Backend) -> None:
    first, second = pg.open(pool_size=1), pg.open(pool_size=1)
    try:
        await first.add_merchant(Merchant("30000001", Secret("KEY-ABCDEFG")), now=NOW_MS)
        found = await second.access("30000001", None)
        assert found is not None
        assert found.merchant.mch_id == "30000001"
        assert found.merchant.key.reveal() == "KEY-ABCDEFG"
    finally:
        await first.close()
        await second.close()


def test_a_transitions_balance_change_depends_on_its_target_alone() -> None:
    """What lets the one-statement outcome pass the change as factors of the amount."""
    for target in RefundStatus:
        sources = [status for status in RefundStatus if status.can_become(target)]
        changes = {BalanceChange.of(source, target, 700) for source in sources}
        assert len(changes) <= 1, (target, changes)
        for change in changes:
            unit = BalanceChange.of(sources[0], target, 1)
            assert change.reserved == 700 * unit.reserved
            assert change.refunded == 700 * unit.refunded
            assert change.refund_count == unit.refund_count


@pytest.mark.parametrize("knowing", [False, True], ids=["by-id", "known-refund"])
async def test_an_outcome_takes_the_order_before_the_refund(
    pg: Backend, monkeypatch: pytest.MonkeyPatch, knowing: bool
) -> None:
    # Another transaction holds the order, then asks for the refund, as a twin's
    # reservation does (the order, then the refund's number). Were the outcome to
    # lock the refund first, the two would deadlock; with no second try allowed,
    # its StoreError would fail this test.
    monkeypatch.setattr(postgres_module, "_DEADLOCK_ATTEMPTS", 1)
    store = await _seeded(pg)
    other = await asyncpg.connect(pg.url)
    try:
        reserved = (await store.reserve(_draft("N1"))).refund
        known = reserved if knowing else None  # with it, the compare-and-set statement
        await other.execute("SET deadlock_timeout = '10s'")  # the outcome's side would lose
        transaction = other.transaction()
        await transaction.start()
        await other.execute("UPDATE pay_orders SET amount = amount WHERE pay_order_id = 'P1'")
        outcome = asyncio.create_task(
            store.transition(
                "RID-N1", Transition(RefundStatus.SUCCEEDED, NOW_MS + 1, "ok"), known=known
            )
        )
        await asyncio.sleep(0.3)  # the outcome waits for the order
        touch_refund = "UPDATE refunds SET attempts = attempts WHERE refund_order_id = 'RID-N1'"
        await asyncio.wait_for(other.execute(touch_refund), 5)
        await transaction.commit()
        refund = await asyncio.wait_for(outcome, 10)
        assert refund.status is RefundStatus.SUCCEEDED
        assert await pg.balances("P1") == (100, 0, 1)
    finally:
        await other.close()
        await store.close()


async def test_a_call_that_postgresql_ends_in_a_deadlock_is_run_again(pg: Backend) -> None:
    # PostgreSQL breaks a deadlock by rolling one transaction back whole: that call
    # is run again, up to _DEADLOCK_ATTEMPTS times, and only then fails.
    store = PostgresStore(pg.url)
    tries: list[int] = []

    def deadlocking(times: int) -> Callable[[Any], Awaitable[int]]:
        async def work(connection: Any) -> int:
            tries.append(1)
            if len(tries) <= times:
                raise asyncpg.DeadlockDetectedError("deadlock detected")
            return int(await connection.fetchval("SELECT 1"))

        return work

    try:
        assert await store._call(deadlocking(postgres_module._DEADLOCK_ATTEMPTS - 1)) == 1
        assert len(tries) == postgres_module._DEADLOCK_ATTEMPTS
        tries.clear()
        with pytest.raises(StoreError, match="Deadlock"):
            await store._call(deadlocking(postgres_module._DEADLOCK_ATTEMPTS))
        assert len(tries) == postgres_module._DEADLOCK_ATTEMPTS
    finally:
        await store.close()


async def test_a_wait_for_a_busy_connection_ends_with_the_statement_ahead(pg: Backend) -> None:
    """Connections are taken without a timeout of their own: a request behind a busy
    connection waits only until the statement holding it ends, by its command timeout."""
    store = pg.open(pool_size=1, command_timeout_s=0.5)
    try:
        await store.ping()  # the pool's one connection is open
        stuck = asyncio.ensure_future(
            store._call(lambda connection: connection.execute("SELECT pg_sleep(5)"))  # type: ignore[attr-defined]
        )
        await asyncio.sleep(0.1)  # it holds the connection
        started = asyncio.get_running_loop().time()
        await store.ping()  # waits for the one connection
        waited = asyncio.get_running_loop().time() - started
        with pytest.raises(StoreError):
            await stuck
    finally:
        await store.close()
    assert 0.2 < waited < 3.0  # the 0.5 s command timeout, not the 5 s statement
