"""The SQLite store: the embedded default.

Three connections per process. Writes go through one writing connection, in
batches (``store.group_commit``: many callers' writes, one transaction, one
flush; the statements run on the event loop, the flush on a thread). The
merchant and refund lookups use a read-only connection on the loop too: in
WAL mode a point read on an indexed key never waits for the writer, and each
sees every commit made before it, so a changed key or a disabled merchant
counts at once. Longer reads (lists, scans) run on the thread, on a
read-only connection of their own.

Writes run inside ``BEGIN IMMEDIATE`` transactions: SQLite then holds its
single write lock from the first read of the transaction to the commit, so
the checks made inside it hold across processes sharing the file (G1, G2).
WAL lets readers go on meanwhile. Writes run one after another on one
connection, so a later write in a batch sees an earlier one exactly as it
would have after a separate commit: replays and conflicts behave as with one
transaction each.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NoReturn, TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from refundgate.domain.channels import ChannelFamily
from refundgate.domain.errors import (
    AlreadyExists,
    MerchantNotFound,
    RefundNotFound,
    RefundNumberConflict,
    RefundRefused,
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
from refundgate.store.group_commit import GroupCommit
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
)
from refundgate.store.refund_rules import (
    SQLITE,
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

__all__ = ["SqliteStore"]

T = TypeVar("T")

_FIND_BY_NUMBER = f"SELECT {REFUND_COLUMNS} FROM refunds WHERE mch_id = ? AND mch_refund_no = ?"
_FIND_BY_ID = f"SELECT {REFUND_COLUMNS} FROM refunds WHERE mch_id = ? AND refund_order_id = ?"
_GET_REFUND = f"SELECT {REFUND_COLUMNS} FROM refunds WHERE refund_order_id = ?"
_GET_ORDER = f"SELECT {ORDER_COLUMNS} FROM pay_orders WHERE mch_id = ? AND pay_order_id = ?"
_MOVE_BALANCES = (
    "UPDATE pay_orders SET reserved_amount = reserved_amount + ?,"
    " refunded_amount = refunded_amount + ?, refund_count = refund_count + ?"
    " WHERE mch_id = ? AND pay_order_id = ?"
)
# Numbered as PostgreSQL's reservation: ?1 mch_id, ?2 mch_refund_no, ?3 pay_order_id,
# ?4 amount, ?5 now, ?6 currency, ?7 channel_id, ?8 refund_order_id, ?9 login_name,
# ?10 client_ip, ?11 device, ?12 notify_url, ?13 request_extra; ?14-?19 the authority
# it must still hold (refund_rules.authority_arguments).
_INSERT_REFUND_IF_ALLOWED = (
    "INSERT INTO refunds (refund_order_id, mch_id, mch_refund_no, pay_order_id, channel_id,"
    " amount, currency, status, login_name, client_ip, device, notify_url, request_extra,"
    " created_at, updated_at) SELECT ?8, ?1, ?2, ?3, o.channel_id, ?4, o.currency, 'PENDING',"
    " ?9, ?10, ?11, ?12, ?13, ?5, ?5"
    f" FROM pay_orders AS o WHERE {order_takes_refund(SQLITE)} AND {authority_holds(SQLITE)}"
)
_RESERVE = (
    "UPDATE pay_orders SET reserved_amount = reserved_amount + ?,"
    " refund_count = refund_count + 1, last_refund_at = ?"
    f" WHERE mch_id = ? AND pay_order_id = ? RETURNING {ORDER_COLUMNS}"
)
_INSERT_EVENT = (
    "INSERT INTO refund_events (refund_order_id, mch_id, at, kind, from_status, to_status,"
    " login_name, client_ip, reason, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SET_STATUS = (
    "UPDATE refunds SET status = ?, updated_at = ?,"
    " channel_refund_id = COALESCE(?, channel_refund_id),"
    " err_code = COALESCE(?, err_code), err_msg = COALESCE(?, err_msg),"
    " succeeded_at = COALESCE(?, succeeded_at), attempts = attempts + ?"
    " WHERE refund_order_id = ? AND status = ?"
)
_SET_STATUS_RETURNING = f"{_SET_STATUS} RETURNING {REFUND_COLUMNS}"
_GET_ACCESS = (
    f"SELECT {ACCESS_COLUMNS} FROM merchants m LEFT JOIN operators o"
    " ON o.mch_id = m.mch_id AND o.login_name = ? WHERE m.mch_id = ?"
)
_ENQUEUE_NOTIFICATION = (
    "INSERT INTO notifications (refund_order_id, mch_id, notify_url, refund_status, state,"
    " next_attempt_at, created_at) SELECT ?, m.mch_id, COALESCE(?, m.notify_url), ?, 'PENDING',"
    " ?, ? FROM merchants m WHERE m.mch_id = ? AND COALESCE(?, m.notify_url) <> ''"
)


def sqlite_path(database_url: str) -> str:
    """The file named by a ``sqlite:///`` URL."""
    database = make_url(database_url).database
    if not database:
        raise ValueError("a SQLite URL must name a file, e.g. sqlite:///refundgate.db")
    return database


def _null(value: None) -> None:
    return value


# The sqlite3 module binds an exact int, float, str or bytes at once. For any
# other value, None and bool included, it first looks for an adapter, and finds
# none only after two failed attribute lookups, an AttributeError each: 16 per
# refund, 3 % of a refund's instructions (callgrind). Registered, the lookup
# succeeds at once; the values bind exactly as before (NULL, 0 and 1).
sqlite3.register_adapter(type(None), _null)
sqlite3.register_adapter(bool, int)


class _Replayed(Exception):
    """The number is already held: its reservation, answered as a replay (nothing written)."""

    def __init__(self, reservation: Reservation) -> None:
        super().__init__(reservation.refund.refund_order_id)
        self.reservation = reservation


class SqliteStore:
    """The store port on one SQLite file."""

    def __init__(self, database_url: str, *, busy_timeout_ms: int = 10_000) -> None:
        self._url = database_url
        self._path = sqlite_path(database_url)
        self._busy_timeout_ms = busy_timeout_ms
        # The reads that are not point reads, and opening and closing.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="refundgate-sqlite")
        self._batches = GroupCommit(
            lambda: self._open(busy_timeout_ms=0, read_only=False), busy_timeout_ms=busy_timeout_ms
        )
        self._loop_reader: sqlite3.Connection | None = None
        self._thread_reader: sqlite3.Connection | None = None

    # -- plumbing ---------------------------------------------------------

    def _open(self, *, busy_timeout_ms: int, read_only: bool) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self._path,
            timeout=busy_timeout_ms / 1000,
            isolation_level=None,  # autocommit unless a batch says BEGIN
            check_same_thread=False,
        )
        # Before WAL, a reader could wait on the writer's lock.
        self._enable_wal(connection)
        if read_only:
            connection.execute("PRAGMA query_only = ON")
        return connection

    def _reader(self) -> sqlite3.Connection:
        """The read-only connection for point reads on the event loop (see the module doc)."""
        if self._loop_reader is None:
            self._loop_reader = self._open(busy_timeout_ms=self._busy_timeout_ms, read_only=True)
        return self._loop_reader

    def _read_now(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work`` on the loop's reader connection, on the calling thread."""
        try:
            return work(self._reader())
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite: {type(exc).__name__}: {exc}") from exc

    def _enable_wal(self, connection: sqlite3.Connection) -> None:
        # Switching a file to WAL takes an exclusive lock that SQLite does not wait
        # for through the busy handler: processes opening a new file at the same
        # moment would fail with "database is locked". So wait here, as busy_timeout
        # would. Once the file is in WAL mode (it stays so) this returns at once.
        deadline = time.monotonic() + self._busy_timeout_ms / 1000
        while True:
            try:
                if connection.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal":
                    return
            except sqlite3.OperationalError:
                if time.monotonic() > deadline:
                    raise
            if time.monotonic() > deadline:
                raise sqlite3.OperationalError("could not switch the database to WAL mode")
            time.sleep(0.005)

    def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work`` on the thread's reader connection (run through :meth:`_run`)."""
        if self._thread_reader is None:
            self._thread_reader = self._open(busy_timeout_ms=self._busy_timeout_ms, read_only=True)
        return work(self._thread_reader)

    async def _run(self, call: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, call)
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite: {type(exc).__name__}: {exc}") from exc

    async def _write(self, work: Callable[[sqlite3.Connection], T], *, durable: bool = True) -> T:
        """Run ``work`` in the next batch; return once that batch is committed."""
        try:
            return await self._batches.write(work, durable=durable)
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite: {type(exc).__name__}: {exc}") from exc

    async def ping(self) -> None:
        await self._run(lambda: self._read(lambda connection: connection.execute("SELECT 1")))

    async def close(self) -> None:
        await self._batches.drain()
        if self._loop_reader is not None:
            self._loop_reader.close()
            self._loop_reader = None

        def shut() -> None:
            self._batches.close_connection()
            if self._thread_reader is not None:
                self._thread_reader.close()
                self._thread_reader = None

        await self._run(shut)
        self._executor.shutdown(wait=True)

    # -- the refund path ----------------------------------------------------

    async def access(self, mch_id: str, login_name: str | None) -> Access | None:
        def work(connection: sqlite3.Connection) -> Access | None:
            row = connection.execute(_GET_ACCESS, (login_name, mch_id)).fetchone()
            return access_from_row(row, login_name) if row is not None else None

        return self._read_now(work)

    async def reserve(self, draft: RefundDraft) -> Reservation:
        try:
            return await self._write(lambda connection: self._reserve(connection, draft))
        except _Replayed as replayed:
            return replayed.reservation

    def _reserve(self, connection: sqlite3.Connection, draft: RefundDraft) -> Reservation:
        request = draft.request
        try:
            # The refund first, taken only while the merchant and operator still grant
            # what they were read to grant and the order's rules allow it: a number
            # already used, or a refused refund, fails before anything changed.
            inserted = connection.execute(_INSERT_REFUND_IF_ALLOWED, reservation_arguments(draft))
        except sqlite3.IntegrityError:
            self._replay_if_held(connection, draft)
            raise
        if inserted.rowcount != 1:
            self._refuse(connection, draft)
        row = connection.execute(
            _RESERVE, (request.amount, draft.requested_at, request.mch_id, request.pay_order_id)
        ).fetchone()
        order = order_from_row(row)
        connection.execute(
            _INSERT_EVENT,
            (
                draft.refund_order_id, request.mch_id, draft.requested_at, "requested", None,
                RefundStatus.PENDING.name, request.login_name, request.client_ip,
                f"refund of {request.amount} {order.currency} reserved", None,
            ),
        )  # fmt: skip
        return Reservation(Refund.reserved(draft, order), order, created=True)

    def _refuse(self, connection: sqlite3.Connection, draft: RefundDraft) -> NoReturn:
        """Why the reservation's SQL took nothing: the authority changed, the domain's
        refusal, or a replay when a retry names a refund we already hold."""
        request = draft.request
        if draft.authority is not None:
            # Under the batch's write lock: as the reservation's statement saw them.
            row = connection.execute(_GET_ACCESS, (request.login_name, request.mch_id)).fetchone()
            check_authority(row, request.login_name, draft.authority)
        found = connection.execute(_GET_ORDER, (request.mch_id, request.pay_order_id)).fetchone()
        try:
            check_refund(order_from_row(found) if found else None, draft)
        except RefundRefused:
            # A retry of a refund we already hold is answered with it, even when
            # the order could take no new refund now.
            self._replay_if_held(connection, draft)
            raise
        raise StoreError("sqlite: the reservation's SQL refused what the domain allows")

    def _replay_if_held(self, connection: sqlite3.Connection, draft: RefundDraft) -> None:
        """Raise the stored refund under this number as a replay, if there is one."""
        request = draft.request
        row = connection.execute(
            _FIND_BY_NUMBER, (request.mch_id, request.mch_refund_no)
        ).fetchone()
        if row is not None:
            raise _Replayed(self._replay(connection, refund_from_row(row), draft))

    @staticmethod
    def _replay(connection: sqlite3.Connection, refund: Refund, draft: RefundDraft) -> Reservation:
        if not refund.answers(draft.request):
            raise RefundNumberConflict(draft.request.mch_refund_no)
        order_row = connection.execute(_GET_ORDER, (refund.mch_id, refund.pay_order_id)).fetchone()
        return Reservation(refund, order_from_row(order_row), created=False)

    async def transition(
        self, refund_order_id: str, change: Transition, *, known: Refund | None = None
    ) -> Refund:
        check_known(refund_order_id, known)
        return await self._write(
            lambda connection: self._transition(connection, refund_order_id, change, known),
            durable=False,
        )

    def _transition(
        self,
        connection: sqlite3.Connection,
        refund_order_id: str,
        change: Transition,
        known: Refund | None,
    ) -> Refund:
        # Most outcomes are the first of a refund just reserved: change it from the
        # status its caller knows (PENDING if none) straight away, and read it only
        # if it has moved on since.
        first = known.status if known is not None else RefundStatus.PENDING
        if first.can_become(change.target):
            changed = self._change_status(connection, refund_order_id, first, change, known)
            if changed is not None:
                return changed
        row = connection.execute(_GET_REFUND, (refund_order_id,)).fetchone()
        if row is None:
            raise RefundNotFound(refund_order_id)
        refund = refund_from_row(row)
        if not refund.status.can_become(change.target):
            return refund
        changed = self._change_status(connection, refund_order_id, refund.status, change, None)
        if changed is None:  # the batch holds the write lock: the row is as just read
            raise StoreError(f"sqlite: refund {refund_order_id} changed under the write lock")
        return changed

    @staticmethod
    def _change_status(
        connection: sqlite3.Connection,
        refund_order_id: str,
        source: RefundStatus,
        change: Transition,
        known: Refund | None,
    ) -> Refund | None:
        """Move the refund from ``source`` (which can become the target), with its balances,
        event and notification; None, changing nothing, if the refund is not in ``source``.

        With ``known`` (the refund in ``source``) the row is not read back: SQLite's
        ``RETURNING`` nearly tripled the update's cost (4.3 -> 11.1 µs here)."""
        target = change.target
        succeeded_at = change.at if target is RefundStatus.SUCCEEDED else None
        arguments = (
            target.name, change.at, change.channel_refund_id, change.err_code, change.err_msg,
            succeeded_at, int(source is RefundStatus.PENDING), refund_order_id, source.name,
        )  # fmt: skip
        if known is not None:
            if connection.execute(_SET_STATUS, arguments).rowcount != 1:
                return None
            refund = moved(known, change)
        else:
            changed = connection.execute(_SET_STATUS_RETURNING, arguments).fetchall()
            if not changed:
                return None
            refund = refund_from_row(changed[0])
        balances = BalanceChange.of(source, target, refund.amount)
        connection.execute(
            _MOVE_BALANCES,
            (
                balances.reserved, balances.refunded, balances.refund_count,
                refund.mch_id, refund.pay_order_id,
            ),
        )  # fmt: skip
        connection.execute(
            _INSERT_EVENT,
            (
                refund_order_id, refund.mch_id, change.at, "status", source.name, target.name,
                change.login_name, None, change.reason, json_text(change.detail),
            ),
        )  # fmt: skip
        if target.is_final:
            # To the refund's own address, else the merchant's; none if neither has one.
            connection.execute(
                _ENQUEUE_NOTIFICATION,
                (
                    refund_order_id, refund.notify_url, target.name, change.at, change.at,
                    refund.mch_id, refund.notify_url,
                ),
            )  # fmt: skip
        return refund

    async def find_refund(
        self, mch_id: str, *, mch_refund_no: str | None = None, refund_order_id: str | None = None
    ) -> Refund | None:
        query, key = (
            (_FIND_BY_NUMBER, mch_refund_no) if mch_refund_no is not None
            else (_FIND_BY_ID, refund_order_id)
        )  # fmt: skip

        def work(connection: sqlite3.Connection) -> Refund | None:
            row = connection.execute(query, (mch_id, key)).fetchone()
            return refund_from_row(row) if row else None

        return self._read_now(work)

    async def get_order(self, mch_id: str, pay_order_id: str) -> PayOrder | None:
        def work(connection: sqlite3.Connection) -> PayOrder | None:
            row = connection.execute(_GET_ORDER, (mch_id, pay_order_id)).fetchone()
            return order_from_row(row) if row else None

        return await self._run(lambda: self._read(work))

    # -- the refund lifecycle (reconciler, review) ---------------------------

    async def get_refund(self, refund_order_id: str) -> Refund | None:
        def work(connection: sqlite3.Connection) -> Refund | None:
            row = connection.execute(_GET_REFUND, (refund_order_id,)).fetchone()
            return refund_from_row(row) if row else None

        return await self._run(lambda: self._read(work))

    async def lease_due(
        self, now: int, *, limit: int, lease_ms: int, pending_grace_ms: int, first_check_ms: int
    ) -> list[Refund]:
        # Inside the writer's BEGIN IMMEDIATE: the select and the lease are one
        # transaction under SQLite's write lock, so two processes never lease one row.
        def work(connection: sqlite3.Connection) -> list[Refund]:
            due = lifecycle.lease_statement("sqlite")
            ids = [
                row[0]
                for row in connection.execute(due, (pending_grace_ms, first_check_ms, now, limit))
            ]
            leased = []
            for refund_order_id in ids:
                connection.execute(
                    "UPDATE refunds SET next_check_at = ? WHERE refund_order_id = ?",
                    (now + lease_ms, refund_order_id),
                )
                leased.append(
                    refund_from_row(connection.execute(_GET_REFUND, (refund_order_id,)).fetchone())
                )
            return leased

        return await self._write(work, durable=False)  # a lost lease only means an early check

    async def schedule_check(self, refund_order_id: str, status: RefundStatus, at: int) -> bool:
        def work(connection: sqlite3.Connection) -> bool:
            cursor = connection.execute(
                "UPDATE refunds SET next_check_at = ? WHERE refund_order_id = ? AND status = ?",
                (at, refund_order_id, status.name),
            )
            return cursor.rowcount == 1

        return await self._write(work, durable=False)

    async def list_refunds(
        self, *, status: RefundStatus | None = None, mch_id: str | None = None, limit: int = 100
    ) -> list[Refund]:
        name = status.name if status else None

        def work(connection: sqlite3.Connection) -> list[Refund]:
            rows = connection.execute(
                lifecycle.list_statement("sqlite"), (name, name, mch_id, mch_id, limit)
            ).fetchall()
            return [refund_from_row(row) for row in rows]

        return await self._run(lambda: self._read(work))

    async def record_exchanges(
        self, refund_order_id: str, exchanges: Sequence[ChannelExchange]
    ) -> None:
        rows = exchange_values(refund_order_id, exchanges)

        def work(connection: sqlite3.Connection) -> None:
            connection.executemany(INSERT_EXCHANGE, rows)

        if rows:
            await self._write(work)

    async def channel_exchanges(self, refund_order_id: str) -> list[ChannelExchange]:
        def work(connection: sqlite3.Connection) -> list[ChannelExchange]:
            rows = connection.execute(EXCHANGES, (refund_order_id,)).fetchall()
            return [exchange_from_row(row) for row in rows]

        return await self._run(lambda: self._read(work))

    async def refund_events(self, refund_order_id: str) -> list[lifecycle.RefundEvent]:
        def work(connection: sqlite3.Connection) -> list[lifecycle.RefundEvent]:
            rows = connection.execute(lifecycle.EVENTS, (refund_order_id,)).fetchall()
            return [lifecycle.event_from_row(row) for row in rows]

        return await self._run(lambda: self._read(work))

    # -- administration -----------------------------------------------------

    async def migrate(self) -> None:
        parent = Path(self._path).parent
        if not parent.is_dir():
            raise StoreError(f"sqlite: {parent} is not a folder")
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._upgrade)
        except (SQLAlchemyError, sqlite3.Error, OSError) as exc:
            reason = getattr(exc, "orig", None) or exc
            raise StoreError(f"sqlite: cannot use {self._path}: {reason}") from exc

    def _upgrade(self) -> None:
        # WAL first, so that the migration itself runs in WAL mode.
        self._open(busy_timeout_ms=self._busy_timeout_ms, read_only=False).close()
        upgrade(self._url)

    async def merchant_count(self) -> int:
        def work(connection: sqlite3.Connection) -> int:
            return int(connection.execute("SELECT count(*) FROM merchants").fetchone()[0])

        return await self._run(lambda: self._read(work))

    async def add_merchant(self, merchant: Merchant, *, now: int) -> None:
        def work(connection: sqlite3.Connection) -> None:
            previous = merchant.previous_key.reveal() if merchant.previous_key else None
            connection.execute(
                "INSERT INTO merchants (mch_id, name, status, sign_key, previous_key,"
                " previous_key_expires_at, notify_url, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    merchant.mch_id, merchant.name, merchant.status.value, merchant.key.reveal(),
                    previous, merchant.previous_key_expires_at, merchant.notify_url, now,
                ),
            )  # fmt: skip

        await self._insert(work, f"merchant {merchant.mch_id} already exists")

    async def add_operator(self, operator: Operator, *, now: int) -> None:
        def work(connection: sqlite3.Connection) -> None:
            self._require_merchant(connection, operator.mch_id)
            connection.execute(
                "INSERT INTO operators (mch_id, login_name, may_refund, active, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (operator.mch_id, operator.login_name, operator.may_refund, operator.active, now),
            )

        await self._insert(
            work, f"operator {operator.login_name} of merchant {operator.mch_id} already exists"
        )

    async def add_order(self, order: PayOrder) -> None:
        def work(connection: sqlite3.Connection) -> None:
            self._require_merchant(connection, order.mch_id)
            outcome = order.sandbox_outcome.value if order.sandbox_outcome else None
            connection.execute(
                f"INSERT INTO pay_orders ({ORDER_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    order.mch_id, order.pay_order_id, order.channel_id, order.currency,
                    order.amount, order.paid_at, order.status.value, order.refunded_amount,
                    order.reserved_amount, order.refund_count, order.last_refund_at,
                    order.mch_order_no, order.channel_order_no, outcome,
                ),
            )  # fmt: skip

        await self._insert(work, f"order {order.pay_order_id} already exists")

    async def _insert(self, work: Callable[[sqlite3.Connection], None], taken: str) -> None:
        try:
            await self._write(work)
        except StoreError as exc:
            if isinstance(exc.__cause__, sqlite3.IntegrityError):
                raise AlreadyExists(taken) from None
            raise

    @staticmethod
    def _require_merchant(connection: sqlite3.Connection, mch_id: str) -> None:
        if (
            connection.execute("SELECT 1 FROM merchants WHERE mch_id = ?", (mch_id,)).fetchone()
            is None
        ):
            raise MerchantNotFound(mch_id)

    # -- channel accounts ---------------------------------------------------

    async def channel_accounts(self) -> list[ChannelAccount]:
        def work(connection: sqlite3.Connection) -> list[ChannelAccount]:
            rows = connection.execute(
                f"SELECT {ACCOUNT_COLUMNS} FROM channel_accounts ORDER BY mch_id, family"
            ).fetchall()
            return [account_from_row(row) for row in rows]

        return await self._run(lambda: self._read(work))

    async def channel_account(self, mch_id: str, family: ChannelFamily) -> ChannelAccount | None:
        def work(connection: sqlite3.Connection) -> ChannelAccount | None:
            rows = connection.execute(
                f"SELECT {ACCOUNT_COLUMNS} FROM channel_accounts"
                " WHERE mch_id IN (?, '') AND family = ?",
                (mch_id, family.value),
            ).fetchall()
            return pick_account(rows)

        return await self._run(lambda: self._read(work))

    async def set_channel_account(self, account: ChannelAccount) -> None:
        def work(connection: sqlite3.Connection) -> None:
            if account.mch_id is not None:
                self._require_merchant(connection, account.mch_id)
            connection.execute(upsert_account("VALUES (?, ?, ?, ?, ?)"), account_values(account))

        await self._write(work)

    # -- notification outbox ------------------------------------------------

    async def lease_notifications(
        self, now: int, *, limit: int, lease_ms: int, refund_order_id: str | None = None
    ) -> list[LeasedNotification]:
        # One writer at a time (BEGIN IMMEDIATE): two processes never take one row.
        def work(connection: sqlite3.Connection) -> list[LeasedNotification]:
            lease = new_lease()
            ids = [
                row[0]
                for row in connection.execute(
                    "SELECT notification_id FROM notifications WHERE state = 'PENDING'"
                    " AND next_attempt_at <= ? AND (? IS NULL OR refund_order_id = ?)"
                    " ORDER BY next_attempt_at, notification_id LIMIT ?",
                    (now, refund_order_id, refund_order_id, limit),
                )
            ]
            leased = []
            for notification_id in ids:
                connection.execute(
                    "UPDATE notifications SET lease_token = ?, next_attempt_at = ?"
                    " WHERE notification_id = ?",
                    (lease, now + lease_ms, notification_id),
                )
                row = connection.execute(
                    f"SELECT {LEASED_COLUMNS} FROM notifications WHERE notification_id = ?",
                    (notification_id,),
                ).fetchone()
                leased.append(leased_from_row(row))
            return leased

        # A read first: an idle notifier must not queue a write (and take the single
        # writer's lock from refunds) every round.
        if not await self._run(lambda: self._read(lambda c: self._any_due(c, now))):
            return []
        return await self._write(work)

    @staticmethod
    def _any_due(connection: sqlite3.Connection, now: int) -> bool:
        return (
            connection.execute(
                "SELECT 1 FROM notifications WHERE state = 'PENDING' AND next_attempt_at <= ?"
                " LIMIT 1",
                (now,),
            ).fetchone()
            is not None
        )

    async def record_delivery(
        self, attempt: DeliveryAttempt, *, lease: str, next_attempt_at: int
    ) -> bool:
        def work(connection: sqlite3.Connection) -> bool:
            connection.execute(INSERT_DELIVERY, delivery_values(attempt))
            changed = connection.execute(
                SET_DELIVERY_STATE,
                (
                    attempt.outcome.value, attempt.attempt, next_attempt_at,
                    attempt.notification_id, lease,
                ),
            )  # fmt: skip
            return changed.rowcount == 1

        return await self._write(work)

    async def reopen_notifications(self, refund_order_id: str, now: int) -> int:
        def work(connection: sqlite3.Connection) -> int:
            return connection.execute(REOPEN, (now, refund_order_id)).rowcount

        return await self._write(work)

    async def notification_deliveries(
        self, refund_order_id: str | None = None, *, limit: int = 100
    ) -> list[DeliveryRecord]:
        def work(connection: sqlite3.Connection) -> list[DeliveryRecord]:
            rows = connection.execute(
                f"SELECT {DELIVERY_COLUMNS} FROM notification_deliveries"
                " WHERE ? IS NULL OR refund_order_id = ? ORDER BY delivery_id DESC LIMIT ?",
                (refund_order_id, refund_order_id, limit),
            ).fetchall()
            return [delivery_from_row(row) for row in rows]

        return await self._run(lambda: self._read(work))
