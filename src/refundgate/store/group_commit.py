"""Group commit for the SQLite store: many callers' writes, one transaction, one flush.

The writes queued by the time the event loop comes round to the batch run in
one ``BEGIN IMMEDIATE`` transaction, and every caller hears its result only
after that transaction's COMMIT. One flush then covers many refunds (one
transaction per write was bounded by the disk's flush at about 1.4k/s here)
while each write stays atomic: a write that raises before changing anything (a
refusal, a conflict) leaves the others alone, and one that raises half done
fails the whole batch (``_attempt``).
Writes run one after another on one connection, so a later write in a batch
sees an earlier one exactly as it would have after a separate commit.

Where each step runs, and why: the statements run on the event loop. A hop to
a writer thread and back, twice per refund, cost more CPU (70–100 µs a refund:
the GIL changing hands at every statement, and the wake-ups) than the
statements themselves (bench/profile_app.py: 3.3–3.8k/s with a writer thread,
4.7–5.0k/s on the loop). A durable COMMIT, which waits for the disk, runs on
the thread while the loop serves; nothing else touches the connection until
that batch is done. The loop never waits for *another process's* lock: the
connection's busy timeout is 0, and a batch that finds the lock taken is
handed to the thread, which waits up to ``busy_timeout`` for it; later writes
queue behind it.

Checkpoints run on the thread too. SQLite copies the WAL into the database
at the end of whichever commit takes it past ``wal_autocheckpoint`` pages, and
syncs both files to disk while doing so; on a commit made on the loop, that
stopped the event loop for the flushes (15 of them in 6 s at 1,200 refunds/s,
by strace). So a batch committed on the loop runs with the automatic
checkpoint off, a durable one on the thread with it on; and after
``CHECKPOINT_EVERY`` batches in a row without a durable one, the next is
committed on the thread as if it were, so that the WAL never grows unchecked.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, Literal, TypeVar

__all__ = ["CHECKPOINT_EVERY", "GroupCommit"]

T = TypeVar("T")

#: Batches committed on the loop in a row (no checkpoint) before one commits on the thread.
CHECKPOINT_EVERY = 100
#: SQLite's default for ``wal_autocheckpoint``, in pages: what a commit on the thread uses.
_AUTOCHECKPOINT_PAGES = 1000


@dataclass(slots=True)
class _Write(Generic[T]):
    """One caller's write, waiting for a batch; ``error`` or ``result`` once committed."""

    work: Callable[[sqlite3.Connection], T]
    durable: bool
    settled: asyncio.Future[None]  # of the caller's loop, resolved after the batch ends
    result: T | None = None
    error: BaseException | None = None


_BatchState = Literal["busy", "to_flush", "ended"]


def _abandon(connection: sqlite3.Connection, batch: list[_Write[Any]], error: Exception) -> None:
    """The batch's transaction is gone: nothing of it is kept, so every write fails."""
    if connection.in_transaction:
        connection.execute("ROLLBACK")
    _fail(batch, error)


def _fail(batch: list[_Write[Any]], error: BaseException) -> None:
    """The batch did not commit: each write that had not failed on its own fails with it."""
    for write in batch:
        if write.error is None:
            write.error = error


def _settle(writes: list[_Write[Any]]) -> None:
    for write in writes:
        if not write.settled.done():  # a caller that went away leaves a cancelled future
            write.settled.set_result(None)


def _attempt(connection: sqlite3.Connection, write: _Write[Any]) -> None:
    """One write inside the batch.

    A write that raises before changing a row (a refusal, a conflict, a replay,
    or a statement that failed: SQLite undoes a failed statement by itself)
    leaves the batch as it was, and the others go on. One that raises after
    changing rows cannot be undone alone: the whole batch fails. That costs no
    statement per write, where a SAVEPOINT and its RELEASE cost two.
    """
    changes = connection.total_changes
    try:
        write.result = write.work(connection)
    except Exception as exc:  # the caller's own answer: a refusal, a conflict, …
        write.error = exc
        if not connection.in_transaction or connection.total_changes != changes:
            raise sqlite3.OperationalError(
                "a write failed half done: the batch is rolled back"
            ) from exc


class _Flusher:
    """One thread that runs the batches' disk work in order: a COMMIT, a lock wait.

    A plain queue and thread: an executor's submit builds a Future with its own
    Condition per call, which cost about 6 % of the loop's time here.
    Every job is total: it catches its errors and wakes its callers itself.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def submit(self, job: Callable[[], None]) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="refundgate-sqlite-flush", daemon=True
            )
            self._thread.start()
        self._jobs.put(job)

    def stop(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)  # after any job still queued
            self._thread = None

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            job()


class GroupCommit:
    """The batches of one SQLite writing connection.

    ``open_writer`` opens it in WAL mode with a busy timeout of 0 (the loop must
    not wait for a lock); a batch that needs to wait sets ``busy_timeout_ms``
    for itself, on the flusher thread.
    """

    def __init__(
        self, open_writer: Callable[[], sqlite3.Connection], *, busy_timeout_ms: int
    ) -> None:
        self._open_writer = open_writer
        self._flusher = _Flusher()
        self._busy_timeout_ms = busy_timeout_ms
        self._connection: sqlite3.Connection | None = None
        self._synchronous = "FULL"  # the connection's, as last set
        self._on_the_loop = 0  # batches committed on the loop since the last on the thread
        self._pending: deque[_Write[Any]] = deque()
        self._idle = asyncio.Event()  # cleared while a batch is scheduled or running
        self._idle.set()
        self._closed = False

    def writer(self) -> sqlite3.Connection:
        """The writing connection (busy timeout 0: it never waits for a lock on the loop)."""
        if self._connection is None:
            connection = self._open_writer()
            connection.execute("PRAGMA synchronous = FULL")
            connection.execute(f"PRAGMA wal_autocheckpoint = {_AUTOCHECKPOINT_PAGES}")
            self._synchronous = "FULL"
            self._connection = connection
        return self._connection

    async def write(self, work: Callable[[sqlite3.Connection], T], *, durable: bool) -> T:
        """Run ``work`` in the next batch; return (or raise) once that batch has ended.

        ``durable``: the batch's COMMIT waits for the disk's flush. Outcome writes
        may go without (a lost one is asked of the channel again).
        """
        if self._closed:
            raise RuntimeError("the store is closed")
        loop = asyncio.get_running_loop()
        write = _Write(work, durable, loop.create_future())
        self._pending.append(write)
        if self._idle.is_set():
            # After the callbacks already due: the writes they queue join this batch.
            self._idle.clear()
            loop.call_soon(self._flush)
        await write.settled
        if write.error is not None:
            raise write.error
        return write.result  # type: ignore[return-value]  # set when error is None

    async def drain(self) -> None:
        """Take no more writes; return once the batch in hand has woken its callers."""
        self._closed = True
        await self._idle.wait()
        self._flusher.stop()

    def close_connection(self) -> None:
        """Close the writing connection (after :meth:`drain`, on the thread)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _flush(self) -> None:
        """Run every waiting write as one transaction; wake their callers once it commits."""
        batch = [self._pending.popleft() for _ in range(len(self._pending))]
        if not batch:
            self._idle.set()
            return
        try:
            state = self._run_batch(batch, wait=False)
        except Exception as exc:  # no connection, a failed PRAGMA: the batch did not run
            _fail(batch, exc)
            state = "ended"
        loop = asyncio.get_running_loop()
        if state == "busy":
            # Another process holds the write lock: wait for it on the thread,
            # never on the loop. Later writes queue behind this batch.
            self._flusher.submit(partial(self._flush_waiting, batch, loop))
        elif state == "to_flush":
            # The disk's flush, on the thread: the loop serves meanwhile. Nothing
            # else uses the writer until this batch is done (``_idle`` is clear).
            self._flusher.submit(partial(self._commit_on_thread, batch, loop))
        else:
            self._batch_done(batch)

    def _flush_waiting(self, batch: list[_Write[Any]], loop: asyncio.AbstractEventLoop) -> None:
        """The batch, on the thread, waiting up to ``busy_timeout`` for the write lock."""
        try:
            connection = self.writer()
            connection.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            try:
                if self._run_batch(batch, wait=True) == "to_flush":
                    self._commit(connection, batch)
            finally:
                connection.execute("PRAGMA busy_timeout = 0")
        except Exception as exc:  # no connection, a failed PRAGMA: the batch did not run
            _fail(batch, exc)
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            loop.call_soon_threadsafe(self._batch_done, batch)

    def _commit_on_thread(self, batch: list[_Write[Any]], loop: asyncio.AbstractEventLoop) -> None:
        try:
            self._commit(self.writer(), batch)
        except Exception as exc:  # whatever happens, the callers must hear of it
            _fail(batch, exc)
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            loop.call_soon_threadsafe(self._batch_done, batch)

    def _batch_done(self, batch: list[_Write[Any]]) -> None:
        """Wake the batch's callers; start the next batch if writes queued meanwhile."""
        if self._pending:  # accepted before any close: they run too
            asyncio.get_running_loop().call_soon(self._flush)
        else:
            self._idle.set()
        # The callers on this loop are woken at once; any on another loop get one
        # wake-up per loop and batch.
        running = asyncio.get_running_loop()
        by_loop: dict[asyncio.AbstractEventLoop, list[_Write[Any]]] = {}
        for write in batch:
            by_loop.setdefault(write.settled.get_loop(), []).append(write)
        for loop, writes in by_loop.items():
            if loop is running:
                _settle(writes)
                continue
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
                loop.call_soon_threadsafe(_settle, writes)

    def _run_batch(self, batch: list[_Write[Any]], *, wait: bool) -> _BatchState:
        """Begin and run the batch's writes; commit it here unless it needs the disk's flush.

        ``busy``: the lock is taken (only when not ``wait``), nothing done.
        ``to_flush``: the writes ran; the open transaction awaits a durable COMMIT.
        ``ended``: committed without a flush, or failed (each write has its error).
        """
        connection = self.writer()
        # Outcome commits only may skip the flush: a lost one is asked of the
        # channel again with the same key, and the next durable commit flushes
        # its pages too. Every write goes through here, so the settings are
        # always the ones its batch needs; a commit on the loop never checkpoints.
        durable = self._on_the_loop >= CHECKPOINT_EVERY or any(w.durable for w in batch)
        wanted = "FULL" if durable else "NORMAL"
        if wanted != self._synchronous:
            pages = _AUTOCHECKPOINT_PAGES if durable else 0
            connection.execute(f"PRAGMA synchronous = {wanted}")
            connection.execute(f"PRAGMA wal_autocheckpoint = {pages}")
            self._synchronous = wanted
        self._on_the_loop = 0 if durable else self._on_the_loop + 1
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if not wait and exc.sqlite_errorcode == sqlite3.SQLITE_BUSY:
                return "busy"
            _fail(batch, exc)
            return "ended"
        try:
            for write in batch:
                _attempt(connection, write)
        except sqlite3.Error as exc:
            _abandon(connection, batch, exc)
            return "ended"
        if durable:
            return "to_flush"
        self._commit(connection, batch)
        return "ended"

    @staticmethod
    def _commit(connection: sqlite3.Connection, batch: list[_Write[Any]]) -> None:
        try:
            connection.execute("COMMIT")
        except Exception as exc:  # not committed: nothing of the batch may stay open
            _abandon(connection, batch, exc)
