"""Shared fixtures: a migrated SQLite store, the app in-process, signed requests."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import structlog
from hypothesis import settings as hypothesis_settings

from refundgate.api import GatewayApp
from refundgate.bootstrap import configure_logging
from refundgate.domain.merchant import Merchant, Operator
from refundgate.domain.model import PayOrder, SandboxOutcome
from refundgate.domain.secret import Secret
from refundgate.protocol import sign
from refundgate.sandbox import SandboxLedger, sandbox_channels
from refundgate.service import AccessCache, Deps
from refundgate.store.migrate import upgrade
from refundgate.store.sqlite import SqliteStore
from tests.backends import Backend, any_store, backend, pg_url, truncate  # noqa: F401  (fixtures)

# Speed is measured by the benchmark, not by tests: no per-example deadline, so
# a loaded CI machine cannot turn a slow example into a failure.
hypothesis_settings.register_profile("refundgate", deadline=None)
hypothesis_settings.load_profile("refundgate")

MCH_ID = "10000576"
KEY = "TESTKEY123"
LOGIN = "vincent"
OTHER_MCH_ID = "20000001"
OTHER_KEY = "OTHERKEY456"
DAY_MS = 86_400_000
NOW_MS = 1_767_268_800_000  # 2026-01-01T12:00:00Z


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, now_ms: int = NOW_MS) -> None:
        self.now = now_ms

    def now_ms(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


class CountingIds:
    """Predictable refund ids: R0000000001, R0000000002, …"""

    def __init__(self) -> None:
        self.issued = 0

    def refund_order_id(self, now_ms: int) -> str:
        self.issued += 1
        return f"R{self.issued:010d}"


def signed_fields(fields: dict[str, Any], key: str = KEY) -> dict[str, Any]:
    """``fields`` plus their ``sign``."""
    return {**fields, "sign": sign(fields, key)}


def params_body(fields: dict[str, Any]) -> bytes:
    """The canonical body: ``params=<json>``, URL-encoded."""
    return urlencode({"params": json.dumps(fields, separators=(",", ":"))}).encode()


def refund_fields(**overrides: Any) -> dict[str, Any]:
    """A valid refund request for the default merchant, before signing."""
    fields: dict[str, Any] = {
        "mchId": MCH_ID,
        "mchRefundNo": "R-1",
        "payOrderId": "ALI-1",
        "refundAmount": "100",
        "loginName": LOGIN,
        "clientIp": "24.80.45.254",
    }
    fields.update(overrides)
    return {name: value for name, value in fields.items() if value is not None}


def db_snapshot(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, for asserting that nothing changed."""
    connection = sqlite3.connect(path)
    try:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        return {
            table: sorted(connection.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
            for table in tables
        }
    finally:
        connection.close()


@dataclass
class Gateway:
    """The app in-process, with its store, sandbox ledger, clock and a client."""

    app: GatewayApp
    deps: Deps
    store: SqliteStore
    ledger: SandboxLedger
    clock: FakeClock
    db_path: Path
    client: httpx.AsyncClient
    backend: Backend

    async def post(self, path: str, body: bytes, content_type: str | None = None) -> httpx.Response:
        headers = {"content-type": content_type or "application/x-www-form-urlencoded"}
        return await self.client.post(path, content=body, headers=headers)

    async def refund(self, key: str = KEY, **overrides: Any) -> dict[str, Any]:
        """POST a signed refund request; the decoded answer."""
        response = await self.post(
            "/v1/refund_order", params_body(signed_fields(refund_fields(**overrides), key))
        )
        assert response.status_code == 200
        answer: dict[str, Any] = response.json()
        return answer

    async def query(self, key: str = KEY, **fields: Any) -> dict[str, Any]:
        body = params_body(signed_fields({"mchId": MCH_ID, **fields}, key))
        response = await self.post("/v1/query_refund", body)
        assert response.status_code == 200
        answer: dict[str, Any] = response.json()
        return answer

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        return self.backend.snapshot_sync()

    async def add_order(
        self,
        pay_order_id: str,
        channel_id: str,
        amount: int,
        *,
        mch_id: str = MCH_ID,
        currency: str = "CAD",
        paid_at: int | None = None,
        outcome: SandboxOutcome | None = None,
    ) -> PayOrder:
        order = PayOrder(
            mch_id=mch_id,
            pay_order_id=pay_order_id,
            channel_id=channel_id,
            currency=currency,
            amount=amount,
            paid_at=self.clock.now if paid_at is None else paid_at,
            sandbox_outcome=outcome,
        )
        await self.store.add_order(order)
        return order


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "refundgate.db"


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database migrated once per run; each test gets a copy (migrating takes ~0.25 s)."""
    path = tmp_path_factory.mktemp("template") / "migrated.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
async def store(db_path: Path, migrated_template: Path) -> AsyncIterator[SqliteStore]:
    shutil.copyfile(migrated_template, db_path)
    store = SqliteStore(f"sqlite:///{db_path}")
    yield store
    await store.close()


async def seed_merchants(store: SqliteStore, now: int = NOW_MS) -> None:
    """Two merchants with one refunding operator each, plus a read-only operator."""
    await store.add_merchant(Merchant(MCH_ID, Secret(KEY), name="Test"), now=now)
    await store.add_operator(Operator(MCH_ID, LOGIN), now=now)
    await store.add_operator(Operator(MCH_ID, "viewer", may_refund=False), now=now)
    await store.add_merchant(Merchant(OTHER_MCH_ID, Secret(OTHER_KEY), name="Other"), now=now)
    await store.add_operator(Operator(OTHER_MCH_ID, "olga"), now=now)


@pytest.fixture
def gateway_store() -> str:
    """Which store the ``gateway`` fixture runs on; tests/api runs each in turn."""
    return "sqlite"


@pytest.fixture
async def gateway(
    request: pytest.FixtureRequest, gateway_store: str, store: SqliteStore, db_path: Path
) -> AsyncIterator[Gateway]:
    """The gateway over a fresh database with two merchants and some paid orders.

    Orders of the default merchant: ``ALI-1`` (ALIPAY_QR, 10000), ``WX-1``
    (WX_NATIVE, 10000), ``UPI-1`` (UPI_SEQ, 10000), ``CARD-1`` (CC_PAX, 10000).
    The other merchant has ``OTHER-1`` (ALIPAY_QR, 10000).
    """
    if gateway_store == "sqlite":
        async for gw in _gateway(store, db_path, Backend("sqlite", f"sqlite:///{db_path}")):
            yield gw
        return
    url = request.getfixturevalue("pg_url")
    await truncate(url)
    database = Backend("postgresql", url)
    pg_store = database.open()
    try:
        async for gw in _gateway(pg_store, db_path, database):
            yield gw
    finally:
        await pg_store.close()


async def _gateway(store: Any, db_path: Path, database: Backend) -> AsyncIterator[Gateway]:
    await seed_merchants(store)
    clock = FakeClock()
    ledger = SandboxLedger()
    deps = Deps(
        store=store,
        channels=sandbox_channels(ledger),
        clock=clock,
        ids=CountingIds(),
        access_cache=AccessCache(),  # as served: refunds authorize against it
    )
    app = GatewayApp(deps)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        gw = Gateway(app, deps, store, ledger, clock, db_path, client, database)
        await gw.add_order("ALI-1", "ALIPAY_QR", 10_000)
        await gw.add_order("WX-1", "WX_NATIVE", 10_000)
        await gw.add_order("UPI-1", "UPI_SEQ", 10_000)
        await gw.add_order("CARD-1", "CC_PAX", 10_000)
        await gw.add_order("OTHER-1", "ALIPAY_QR", 10_000, mch_id=OTHER_MCH_ID)
        yield gw


@contextmanager
def log_lines(level: str) -> Iterator[io.StringIO]:
    """The app's log lines at ``level`` and above, while the block runs."""
    lines = io.StringIO()
    configure_logging(level, lines)
    try:
        yield lines
    finally:
        structlog.reset_defaults()
