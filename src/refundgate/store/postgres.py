"""The PostgreSQL store: several gateway processes, on several hosts, one database.

Correctness comes from the database alone (G1, G2):

* A reservation is **one statement** (one round trip): a data-modifying CTE
  that moves the order's balance only where every rule of
  :func:`refundgate.domain.rules.check_refund` holds — compiled from the
  domain's own policy table — inserts the refund and appends its event.
  PostgreSQL re-checks the ``UPDATE``'s conditions on the latest row version
  after waiting for a concurrent writer, so two reservations can never both
  fit where only one does; the ``UNIQUE (mch_id, mch_refund_no)`` key turns a
  concurrent twin into an error that aborts the whole statement, answered as
  a replay.
* When that statement reserves nothing (a replay, a refusal, a lost race), a
  locked transaction finds out why with the domain's rules and either replays,
  refuses with the exact reason, or reserves after all.
* Outcome commits run with ``synchronous_commit = off`` for that transaction
  only: one lost on a crash is asked of the channel again with the same key.
  Reservations always wait for the WAL flush.

Any failure to reach the database becomes :class:`~refundgate.ports.StoreError`;
the pool replaces broken connections, so service resumes by itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg
from sqlalchemy.exc import SQLAlchemyError

from refundgate.domain.channels import ChannelFamily
from refundgate.domain.errors import (
    AlreadyExists,
    MerchantNotFound,
    RefundNotFound,
    RefundNumberConflict,
)
from refundgate.domain.merchant import Merchant, Operator
from refundgate.domain.model import BalanceChange, PayOrder, Refund, RefundDraft, RefundStatus
from refundgate.domain.rules import check_refund
from refundgate.ports import (
    Access,
    ChannelAccount,
    ChannelExchange,
    DeliveryAttempt,
    DeliveryRecord,
    LeasedNotification,
    Reservation,
    StoreError,
    Transition,
)
from refundgate.store import lifecycle
from refundgate.store.accounts import (
    ACCOUNT_COLUMNS,
    account_from_row,
    account_values,
    pick_account,
    upsert_account,
)
from refundgate.store.exchanges import (
    EXCHANGES,
    INSERT_EXCHANGE,
    exchange_from_row,
    exchange_values,
)
from refundgate.store.migrate import upgrade
from refundgate.store.outbox import (
    DELIVERY_COLUMNS,
    INSERT_DELIVERY,
    LEASED_COLUMNS,
    REOPEN,
    SET_DELIVERY_STATE,
    delivery_from_row,
    delivery_values,
    leased_from_row,
    new_lease,
    numbered,
)
from refundgate.store.refund_rules import (
    POSTGRES,
    authority_holds,
    order_takes_refund,
    reservation_arguments,
)
from refundgate.store.rows import (
    ACCESS_COLUMNS,
    ORDER_COLUMNS,
    REFUND_COLUMNS,
    access_from_row,
    check_authority,
    check_known,
    json_text,
    moved,
    order_from_row,
    refund_from_row,
)

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Connection = PoolConnectionProxy[asyncpg.Record]
else:
    Connection = asyncpg.Connection

__all__ = ["PostgresStore", "postgres_dsn"]

T = TypeVar("T")


#: What losing the database looks like from asyncpg: refused or dropped
#: connections, a server shutting down, a pool that cannot connect in time.
#: Tries of one store call that PostgreSQL keeps ending in a deadlock.
_DEADLOCK_ATTEMPTS = 3

_UNREACHABLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)


def postgres_dsn(database_url: str) -> str:
    """The asyncpg DSN of a ``postgresql://`` (or ``postgresql+asyncpg://``) URL."""
    for prefix in ("postgresql+asyncpg://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql://" + database_url[len(prefix) :]
    return database_url


_ORDER_OUT = ", ".join(f"o.{column.strip()}" for column in ORDER_COLUMNS.split(","))

# $1 mch_id, $2 mch_refund_no, $3 pay_order_id, $4 amount, $5 now, $6 currency,
# $7 channel_id, $8 refund_order_id, $9 login_name, $10 client_ip, $11 device,
# $12 notify_url, $13 request_extra; $14-$19 the authority it must still hold (its
# merchant's key, status, previous key and its expiry, its operator's may_refund and
# active; all NULL when the draft names none): Access.still_holds, in SQL.
_RESERVE = f"""
WITH reserved AS (
    UPDATE pay_orders AS o
    SET reserved_amount = o.reserved_amount + $4,
        refund_count = o.refund_count + 1,
        last_refund_at = $5
    WHERE {order_takes_refund(POSTGRES)}
      AND NOT EXISTS (SELECT 1 FROM refunds AS r WHERE r.mch_id = $1 AND r.mch_refund_no = $2)
      AND {authority_holds(POSTGRES)}
    RETURNING {_ORDER_OUT}
), refund AS (
    INSERT INTO refunds (refund_order_id, mch_id, mch_refund_no, pay_order_id, channel_id,
        amount, currency, status, login_name, client_ip, device, notify_url, request_extra,
        created_at, updated_at)
    SELECT $8, $1, $2, $3, reserved.channel_id, $4, reserved.currency, 'PENDING', $9, $10,
        $11, $12, $13, $5, $5
    FROM reserved
    RETURNING refund_order_id, currency
), event AS (
    INSERT INTO refund_events (refund_order_id, mch_id, at, kind, from_status, to_status,
        login_name, client_ip, reason, detail)
    SELECT refund.refund_order_id, $1, $5, 'requested', NULL, 'PENDING', $9, $10,
        format('refund of %s %s reserved', $4, refund.currency), NULL
    FROM refund
)
SELECT * FROM reserved
"""

_FIND_BY_NUMBER = f"SELECT {REFUND_COLUMNS} FROM refunds WHERE mch_id = $1 AND mch_refund_no = $2"
_FIND_BY_ID = f"SELECT {REFUND_COLUMNS} FROM refunds WHERE mch_id = $1 AND refund_order_id = $2"
_GET_REFUND = f"SELECT {REFUND_COLUMNS} FROM refunds WHERE refund_order_id = $1"
_GET_ORDER = f"SELECT {ORDER_COLUMNS} FROM pay_orders WHERE mch_id = $1 AND pay_order_id = $2"
_LOCK_ORDER = _GET_ORDER + " FOR UPDATE"
_GET_ACCESS = (
    f"SELECT {ACCESS_COLUMNS} FROM merchants m LEFT JOIN operators o"
    " ON o.mch_id = m.mch_id AND o.login_name = $2 WHERE m.mch_id = $1"
)
# $1 now, $2 limit, $3 lease_ms, $4 lease token, $5 refund_order_id or NULL. SKIP LOCKED:
# concurrent workers each take other rows; the pushed next_attempt_at keeps them off
# the taken ones after the commit.
_LEASE_NOTIFICATIONS = f"""
UPDATE notifications AS n SET lease_token = $4, next_attempt_at = $1 + $3
FROM (
    SELECT notification_id FROM notifications
    WHERE state = 'PENDING' AND next_attempt_at <= $1
      AND ($5::text IS NULL OR refund_order_id = $5)
    ORDER BY next_attempt_at, notification_id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
) AS due
WHERE n.notification_id = due.notification_id
RETURNING {", ".join("n." + column.strip() for column in LEASED_COLUMNS.split(","))}
"""
_LIST_DELIVERIES = f"""
SELECT {DELIVERY_COLUMNS} FROM notification_deliveries
WHERE $1::text IS NULL OR refund_order_id = $1
ORDER BY delivery_id DESC LIMIT $2
"""
_INSERT_EXCHANGE = numbered(INSERT_EXCHANGE)
_EXCHANGES = numbered(EXCHANGES)
_REFUND_OUT = ", ".join(f"r.{column.strip()}" for column in REFUND_COLUMNS.split(","))

# What follows a refund's status change ``changed`` (its id, merchant, order, amount,
# notify_url and ``source``, the status it left) in both outcome statements: its
# balances, its event and, on a final status, its outbox row. $2 target, $3 at,
# $9..$11 balance factors, $12 login_name, $13 reason, $14 detail, $15 whether final.
_AFTER_CHANGE = """), balances AS (
    UPDATE pay_orders AS o
    SET reserved_amount = o.reserved_amount + $9 * ch.amount,
        refunded_amount = o.refunded_amount + $10 * ch.amount,
        refund_count = o.refund_count + $11
    FROM changed AS ch
    WHERE o.mch_id = ch.mch_id AND o.pay_order_id = ch.pay_order_id
), event AS (
    INSERT INTO refund_events (refund_order_id, mch_id, at, kind, from_status, to_status,
        login_name, client_ip, reason, detail)
    SELECT ch.refund_order_id, ch.mch_id, $3, 'status', ch.source, $2, $12, NULL, $13, $14
    FROM changed AS ch
), outbox AS (
    INSERT INTO notifications (refund_order_id, mch_id, notify_url, refund_status, state,
        next_attempt_at, created_at)
    SELECT ch.refund_order_id, m.mch_id, COALESCE(ch.notify_url, m.notify_url), $2,
        'PENDING', $3, $3
    FROM changed AS ch JOIN merchants AS m ON m.mch_id = ch.mch_id
    WHERE $15 AND COALESCE(ch.notify_url, m.notify_url) IS NOT NULL
)
"""

# One statement, one round trip: lock the refund, compare-and-set its status, move
# the balances, append the event and, on a final status, the outbox row. The first
# CTE makes this statement's own commit skip the wait for the WAL flush: a lost
# outcome is asked of the channel again with the same key (reservations always wait).
# The order's row is locked before the refund's, the order a reservation takes
# them in (a twin holds the order, then checks the refund's number): the other
# way round, an outcome and a twin could each wait for the other.
# $1 refund_order_id, $2 target, $3 at, $4 channel_refund_id, $5 err_code, $6 err_msg,
# $7 succeeded_at, $8 sources allowed, $9..$11 balance factors, $12 login_name,
# $13 reason, $14 detail, $15 whether the target is final.
_APPLY = f"""
WITH relaxed AS (
    SELECT set_config('synchronous_commit', 'off', true) AS setting
), order_first AS (
    SELECT 1 FROM pay_orders AS o
    JOIN refunds AS of_refund
        ON o.mch_id = of_refund.mch_id AND o.pay_order_id = of_refund.pay_order_id
    WHERE of_refund.refund_order_id = $1
    FOR UPDATE OF o
), current AS (
    SELECT r.refund_order_id, r.mch_id, r.pay_order_id, r.amount, r.status, r.notify_url
    FROM refunds AS r, relaxed, order_first
    WHERE r.refund_order_id = $1 AND relaxed.setting IS NOT NULL
    FOR UPDATE OF r
), changed AS (
    UPDATE refunds AS r SET status = $2, updated_at = $3,
        channel_refund_id = COALESCE($4, r.channel_refund_id),
        err_code = COALESCE($5, r.err_code), err_msg = COALESCE($6, r.err_msg),
        succeeded_at = COALESCE($7, r.succeeded_at),
        attempts = r.attempts + CASE WHEN c.status = 'PENDING' THEN 1 ELSE 0 END
    FROM current AS c
    WHERE r.refund_order_id = c.refund_order_id AND c.status = ANY($8::text[])
    RETURNING {_REFUND_OUT}, c.status AS source
{_AFTER_CHANGE}SELECT {REFUND_COLUMNS} FROM changed
UNION ALL
SELECT {REFUND_COLUMNS} FROM refunds
WHERE refund_order_id = $1 AND NOT EXISTS (SELECT 1 FROM changed)
"""
# The outcome of a refund its caller holds (``known``): a compare-and-set from the
# status it knows, without _APPLY's locking read of the refund, its join to find the
# order, or its read-back: 15-30 µs less of PostgreSQL's CPU per refund (a reservation
# and an outcome, one connection: 344 -> 315-330 µs). The order is still locked before
# the refund, as _APPLY does. The status graph has no cycles, so a refund still in the
# known status has not changed since it was read.
# $1..$15 as _APPLY's but $8, the known status; $16 attempts added, $17 mch_id,
# $18 pay_order_id.
_APPLY_KNOWN = f"""
WITH relaxed AS (
    SELECT set_config('synchronous_commit', 'off', true) AS setting
), order_first AS (
    SELECT 1 FROM pay_orders AS o WHERE o.mch_id = $17 AND o.pay_order_id = $18 FOR UPDATE
), changed AS (
    UPDATE refunds AS r SET status = $2, updated_at = $3,
        channel_refund_id = COALESCE($4, r.channel_refund_id),
        err_code = COALESCE($5, r.err_code), err_msg = COALESCE($6, r.err_msg),
        succeeded_at = COALESCE($7, r.succeeded_at),
        attempts = r.attempts + $16
    FROM relaxed, order_first
    WHERE r.refund_order_id = $1 AND r.status = $8 AND relaxed.setting IS NOT NULL
    RETURNING r.refund_order_id, r.mch_id, r.pay_order_id, r.amount, r.notify_url,
        $8 AS source
{_AFTER_CHANGE}SELECT 1 FROM changed
"""
_INSERT_MERCHANT = """
INSERT INTO merchants (mch_id, name, status, sign_key, previous_key,
    previous_key_expires_at, notify_url, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""
_INSERT_OPERATOR = """
INSERT INTO operators (mch_id, login_name, may_refund, active, created_at)
SELECT m.mch_id, $2, $3, $4, $5 FROM merchants AS m WHERE m.mch_id = $1
"""
_INSERT_ORDER = f"""
INSERT INTO pay_orders ({ORDER_COLUMNS})
SELECT m.mch_id, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14
FROM merchants AS m WHERE m.mch_id = $1
"""


def _present(row: asyncpg.Record | None) -> asyncpg.Record:
    """A row that the locks held make sure of; its absence is a broken database."""
    if row is None:
        raise StoreError("postgresql: a locked row vanished")
    return row


def _sources_and_factors(target: RefundStatus) -> tuple[tuple[str, ...], BalanceChange]:
    """The statuses that can become ``target``, and its balance change per unit of
    amount: a transition's balance change depends on its target only."""
    sources = [status for status in RefundStatus if status.can_become(target)]
    factors = BalanceChange.of(sources[0], target, 1) if sources else BalanceChange()
    return tuple(status.name for status in sources), factors


# Worked out once per target, not per outcome.
_BY_TARGET = {target: _sources_and_factors(target) for target in RefundStatus}


def _apply_arguments(refund_order_id: str, change: Transition) -> tuple[Any, ...]:
    target = change.target
    sources, factors = _BY_TARGET[target]
    succeeded_at = change.at if target is RefundStatus.SUCCEEDED else None
    return (
        refund_order_id, target.name, change.at, change.channel_refund_id, change.err_code,
        change.err_msg, succeeded_at, sources, factors.reserved,
        factors.refunded, factors.refund_count, change.login_name, change.reason,
        json_text(change.detail), target.is_final,
    )  # fmt: skip


def _known_arguments(known: Refund, change: Transition) -> tuple[Any, ...]:
    target = change.target
    factors = _BY_TARGET[target][1]
    succeeded_at = change.at if target is RefundStatus.SUCCEEDED else None
    return (
        known.refund_order_id, target.name, change.at, change.channel_refund_id,
        change.err_code, change.err_msg, succeeded_at, known.status.name, factors.reserved,
        factors.refunded, factors.refund_count, change.login_name, change.reason,
        json_text(change.detail), target.is_final, int(known.status is RefundStatus.PENDING),
        known.mch_id, known.pay_order_id,
    )  # fmt: skip


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Release a pooled connection without asyncpg's reset query.

    That query (``RESET ALL``, ``UNLISTEN *``, …) is a round trip per release,
    three per refund. This store changes no session state: its only setting is
    transaction-local (``set_config(…, true)``), and asyncpg still rolls back a
    transaction left open before calling this.
    """


class PostgresStore:
    """The store port on a PostgreSQL database, through an asyncpg pool."""

    def __init__(
        self,
        database_url: str,
        *,
        pool_size: int = 10,
        connect_timeout_s: float = 5.0,
        command_timeout_s: float = 10.0,
    ) -> None:
        self._url = database_url
        self._dsn = postgres_dsn(database_url)
        self._pool_size = pool_size
        self._connect_timeout_s = connect_timeout_s
        self._command_timeout_s = command_timeout_s
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()

    def __repr__(self) -> str:
        # The URL may carry a password; say only where the database is.
        return f"PostgresStore(pool_size={self._pool_size})"

    # -- plumbing ---------------------------------------------------------

    async def _get_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._pool_lock:
                if self._pool is None:
                    self._pool = await asyncpg.create_pool(
                        self._dsn,
                        min_size=1,
                        max_size=self._pool_size,
                        timeout=self._connect_timeout_s,
                        command_timeout=self._command_timeout_s,
                        reset=_keep_session,
                    )
        return self._pool

    async def _call(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        """Run ``work`` on a pooled connection; losing the database is a StoreError.

        A deadlock is run again, up to ``_DEADLOCK_ATTEMPTS`` times: PostgreSQL
        broke it by rolling that transaction back whole, so nothing of it
        stayed. (A refund's outcome locks the refund, then its order; a twin's
        reservation locks the order, then waits on the refund's number: under
        load the two can meet.)
        """
        try:
            pool = await self._get_pool()
            attempt = 1
            while True:
                try:
                    return await self._on_connection(pool, work)
                except asyncpg.DeadlockDetectedError:
                    if attempt == _DEADLOCK_ATTEMPTS:
                        raise
                    attempt += 1
        except _UNREACHABLE as exc:
            raise StoreError(f"postgresql: {type(exc).__name__}: {exc}") from exc

    async def _on_connection(
        self, pool: asyncpg.Pool, work: Callable[[Connection], Awaitable[T]]
    ) -> T:
        # No timeout of its own: asyncpg keeps one with a timer at the acquire and
        # again at the release, about 9 µs of CPU per call and two calls per refund
        # (9 % of a refund's CPU, bench/profile_app.py). A wait stays bounded: a new
        # connection by the pool's connect timeout, a busy one by the command
        # timeout of each statement it runs, so none is held forever.
        async with pool.acquire() as connection:
            try:
                return await work(connection)
            except _UNREACHABLE:
                # A connection the server dropped may be left mid-protocol:
                # never hand it out again; the pool opens a fresh one.
                connection.terminate()
                raise

    async def ping(self) -> None:
        await self._call(lambda connection: connection.fetchval("SELECT 1"))

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), timeout=self._connect_timeout_s)
            except (TimeoutError, *_UNREACHABLE):
                pool.terminate()

    # -- the refund path ----------------------------------------------------

    async def access(self, mch_id: str, login_name: str | None) -> Access | None:
        async def work(connection: Connection) -> Access | None:
            row = await connection.fetchrow(_GET_ACCESS, mch_id, login_name)
            return access_from_row(row, login_name) if row is not None else None

        return await self._call(work)

    async def reserve(self, draft: RefundDraft) -> Reservation:
        return await self._call(lambda connection: self._reserve(connection, draft))

    async def _reserve(self, connection: Connection, draft: RefundDraft) -> Reservation:
        try:
            row = await connection.fetchrow(_RESERVE, *reservation_arguments(draft))
        except asyncpg.UniqueViolationError:
            row = None  # a twin of this number won the race: the locked path replays it
        if row is not None:
            order = order_from_row(row)
            return Reservation(Refund.reserved(draft, order), order, created=True)
        async with connection.transaction():
            return await self._reserve_locked(connection, draft)

    @staticmethod
    async def _reserve_locked(connection: Connection, draft: RefundDraft) -> Reservation:
        """Why the one-statement reservation reserved nothing, decided under the order's lock."""
        request = draft.request
        if draft.authority is not None:
            row = await connection.fetchrow(_GET_ACCESS, request.mch_id, request.login_name)
            check_authority(row, request.login_name, draft.authority)
        found = await connection.fetchrow(_LOCK_ORDER, request.mch_id, request.pay_order_id)
        existing = await connection.fetchrow(_FIND_BY_NUMBER, request.mch_id, request.mch_refund_no)
        if existing is not None:
            refund = refund_from_row(existing)
            if not refund.answers(request):
                raise RefundNumberConflict(request.mch_refund_no)
            # A retry names the same order, so ``found`` is the refund's own order.
            return Reservation(refund, order_from_row(_present(found)), created=False)
        check_refund(order_from_row(found) if found else None, draft)
        # The rules hold now (the order changed since): reserve under the lock.
        row = await connection.fetchrow(_RESERVE, *reservation_arguments(draft))
        if row is None:
            raise StoreError("postgresql: the reservation's SQL refused what the domain allows")
        order = order_from_row(row)
        return Reservation(Refund.reserved(draft, order), order, created=True)

    async def transition(
        self, refund_order_id: str, change: Transition, *, known: Refund | None = None
    ) -> Refund:
        check_known(refund_order_id, known)
        if known is not None and known.status.can_become(change.target):
            arguments = _known_arguments(known, change)
            changed = await self._call(
                lambda connection: connection.fetchval(_APPLY_KNOWN, *arguments)
            )
            if changed is not None:
                return moved(known, change)
        # No refund known, or it has moved on since: decide from the stored one.
        row = await self._call(
            lambda connection: connection.fetchrow(
                _APPLY, *_apply_arguments(refund_order_id, change)
            )
        )
        if row is None:
            raise RefundNotFound(refund_order_id)
        return refund_from_row(row)

    async def find_refund(
        self, mch_id: str, *, mch_refund_no: str | None = None, refund_order_id: str | None = None
    ) -> Refund | None:
        query, key = (
            (_FIND_BY_NUMBER, mch_refund_no) if mch_refund_no is not None
            else (_FIND_BY_ID, refund_order_id)
        )  # fmt: skip
        row = await self._call(lambda connection: connection.fetchrow(query, mch_id, key))
        return refund_from_row(row) if row else None

    async def get_order(self, mch_id: str, pay_order_id: str) -> PayOrder | None:
        row = await self._call(
            lambda connection: connection.fetchrow(_GET_ORDER, mch_id, pay_order_id)
        )
        return order_from_row(row) if row else None

    # -- the refund lifecycle (reconciler, review) ---------------------------

    async def get_refund(self, refund_order_id: str) -> Refund | None:
        row = await self._call(lambda connection: connection.fetchrow(_GET_REFUND, refund_order_id))
        return refund_from_row(row) if row else None

    async def lease_due(
        self, now: int, *, limit: int, lease_ms: int, pending_grace_ms: int, first_check_ms: int
    ) -> list[Refund]:
        # One statement, so one short transaction: rows another worker has locked
        # are skipped, and the pushed next_check_at keeps them from everyone else
        # once this commits, until the worker records the next check (or the lease ends).
        statement = lifecycle.lease_statement("postgresql")
        rows = await self._call(
            lambda connection: connection.fetch(
                statement, now, pending_grace_ms, first_check_ms, limit, lease_ms
            )
        )
        return [refund_from_row(row) for row in rows]

    async def schedule_check(self, refund_order_id: str, status: RefundStatus, at: int) -> bool:
        statement = (
            "UPDATE refunds SET next_check_at = $1 WHERE refund_order_id = $2 AND status = $3"
        )
        done = await self._call(
            lambda connection: connection.execute(statement, at, refund_order_id, status.name)
        )
        return str(done).endswith(" 1")

    async def list_refunds(
        self, *, status: RefundStatus | None = None, mch_id: str | None = None, limit: int = 100
    ) -> list[Refund]:
        name = status.name if status else None
        rows = await self._call(
            lambda connection: connection.fetch(
                lifecycle.list_statement("postgresql"), name, mch_id, limit
            )
        )
        return [refund_from_row(row) for row in rows]

    async def record_exchanges(
        self, refund_order_id: str, exchanges: Sequence[ChannelExchange]
    ) -> None:
        rows = exchange_values(refund_order_id, exchanges)

        if rows:  # executemany is one transaction: all rows or none
            await self._call(lambda connection: connection.executemany(_INSERT_EXCHANGE, rows))

    async def channel_exchanges(self, refund_order_id: str) -> list[ChannelExchange]:
        rows = await self._call(lambda connection: connection.fetch(_EXCHANGES, refund_order_id))
        return [exchange_from_row(row) for row in rows]

    async def refund_events(self, refund_order_id: str) -> list[lifecycle.RefundEvent]:
        statement = lifecycle.EVENTS.replace("?", "$1")
        rows = await self._call(lambda connection: connection.fetch(statement, refund_order_id))
        return [lifecycle.event_from_row(row) for row in rows]

    # -- administration -----------------------------------------------------

    async def migrate(self) -> None:
        # Connect first: an unreachable server is told as such, not as a migration error.
        await self.ping()
        try:
            await asyncio.get_running_loop().run_in_executor(None, upgrade, self._url)
        except (SQLAlchemyError, *_UNREACHABLE) as exc:
            reason = getattr(exc, "orig", None) or exc
            raise StoreError(f"postgresql: cannot migrate: {reason}") from exc

    async def merchant_count(self) -> int:
        count = await self._call(
            lambda connection: connection.fetchval("SELECT count(*) FROM merchants")
        )
        return int(count)

    async def add_merchant(self, merchant: Merchant, *, now: int) -> None:
        previous = merchant.previous_key.reveal() if merchant.previous_key else None
        await self._insert(
            f"merchant {merchant.mch_id} already exists",
            _INSERT_MERCHANT,
            merchant.mch_id, merchant.name, merchant.status.value, merchant.key.reveal(),
            previous, merchant.previous_key_expires_at, merchant.notify_url, now,
        )  # fmt: skip

    async def add_operator(self, operator: Operator, *, now: int) -> None:
        inserted = await self._insert(
            f"operator {operator.login_name} of merchant {operator.mch_id} already exists",
            _INSERT_OPERATOR,
            operator.mch_id, operator.login_name, operator.may_refund, operator.active, now,
        )  # fmt: skip
        if not inserted:
            raise MerchantNotFound(operator.mch_id)

    async def add_order(self, order: PayOrder) -> None:
        outcome = order.sandbox_outcome.value if order.sandbox_outcome else None
        inserted = await self._insert(
            f"order {order.pay_order_id} already exists",
            _INSERT_ORDER,
            order.mch_id, order.pay_order_id, order.channel_id, order.currency, order.amount,
            order.paid_at, order.status.value, order.refunded_amount, order.reserved_amount,
            order.refund_count, order.last_refund_at, order.mch_order_no,
            order.channel_order_no, outcome,
        )  # fmt: skip
        if not inserted:
            raise MerchantNotFound(order.mch_id)

    async def _insert(self, taken: str, statement: str, *arguments: object) -> bool:
        """Run one INSERT; whether it inserted a row. A duplicate key is AlreadyExists."""

        async def work(connection: Connection) -> bool:
            try:
                status = await connection.execute(statement, *arguments)
            except asyncpg.UniqueViolationError:
                raise AlreadyExists(taken) from None
            return bool(status.endswith(" 1"))

        return await self._call(work)

    # -- channel accounts ---------------------------------------------------

    async def channel_accounts(self) -> list[ChannelAccount]:
        rows = await self._call(
            lambda connection: connection.fetch(
                f"SELECT {ACCOUNT_COLUMNS} FROM channel_accounts ORDER BY mch_id, family"
            )
        )
        return [account_from_row(tuple(row)) for row in rows]

    async def channel_account(self, mch_id: str, family: ChannelFamily) -> ChannelAccount | None:
        rows = await self._call(
            lambda connection: connection.fetch(
                f"SELECT {ACCOUNT_COLUMNS} FROM channel_accounts"
                " WHERE mch_id IN ($1, '') AND family = $2",
                mch_id,
                family.value,
            )
        )
        return pick_account([tuple(row) for row in rows])

    async def set_channel_account(self, account: ChannelAccount) -> None:
        # The merchant check and the upsert are one statement: a default account
        # ('') needs no merchant; a merchant's needs its merchant row.
        insert = upsert_account(
            "SELECT $1::text, $2::text, $3::text, $4::bigint, $5::bigint"
            " WHERE $1::text = '' OR EXISTS (SELECT 1 FROM merchants WHERE mch_id = $1::text)"
        )
        changed = await self._call(
            lambda connection: connection.execute(insert, *account_values(account))
        )
        if not str(changed).endswith(" 1"):
            raise MerchantNotFound(str(account.mch_id))

    # -- notification outbox ------------------------------------------------

    async def lease_notifications(
        self, now: int, *, limit: int, lease_ms: int, refund_order_id: str | None = None
    ) -> list[LeasedNotification]:
        rows = await self._call(
            lambda connection: connection.fetch(
                _LEASE_NOTIFICATIONS, now, limit, lease_ms, new_lease(), refund_order_id
            )
        )
        leased = [leased_from_row(row) for row in rows]
        return sorted(leased, key=lambda row: row.notification_id)

    async def record_delivery(
        self, attempt: DeliveryAttempt, *, lease: str, next_attempt_at: int
    ) -> bool:
        async def work(connection: Connection) -> bool:
            async with connection.transaction():
                await connection.execute(numbered(INSERT_DELIVERY), *delivery_values(attempt))
                status = await connection.execute(
                    numbered(SET_DELIVERY_STATE),
                    attempt.outcome.value, attempt.attempt, next_attempt_at,
                    attempt.notification_id, lease,
                )  # fmt: skip
                return bool(status.endswith(" 1"))

        return await self._call(work)

    async def reopen_notifications(self, refund_order_id: str, now: int) -> int:
        status = await self._call(
            lambda connection: connection.execute(numbered(REOPEN), now, refund_order_id)
        )
        return int(str(status).rsplit(" ", 1)[1])

    async def notification_deliveries(
        self, refund_order_id: str | None = None, *, limit: int = 100
    ) -> list[DeliveryRecord]:
        rows = await self._call(
            lambda connection: connection.fetch(_LIST_DELIVERIES, refund_order_id, limit)
        )
        return [delivery_from_row(row) for row in rows]
