"""Whatever arrives, the answer is a clear one and nothing is half-done (G1, G5)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refundgate.api import GatewayApp
from refundgate.domain import PayOrder
from refundgate.protocol import verify
from refundgate.sandbox import SandboxLedger, sandbox_channels
from refundgate.service import Deps
from refundgate.store.sqlite import SqliteStore
from tests.conftest import (
    KEY,
    MCH_ID,
    NOW_MS,
    CountingIds,
    FakeClock,
    db_snapshot,
    params_body,
    refund_fields,
    seed_merchants,
    signed_fields,
)


async def _prepare(url: str) -> None:
    store = SqliteStore(url)
    await store.migrate()
    await seed_merchants(store)
    for pay_order_id, channel_id in (
        ("ALI-1", "ALIPAY_QR"),
        ("UPI-1", "UPI_SEQ"),
        ("CARD-1", "CC_PAX"),
    ):
        await store.add_order(PayOrder(MCH_ID, pay_order_id, channel_id, "CAD", 10_000, NOW_MS))
    await store.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayApp, Path]]:
    db_path = tmp_path_factory.mktemp("any-input") / "refundgate.db"
    url = f"sqlite:///{db_path}"
    asyncio.run(_prepare(url))
    store = SqliteStore(url)
    deps = Deps(store, sandbox_channels(SandboxLedger()), FakeClock(), CountingIds())
    yield GatewayApp(deps), db_path
    asyncio.run(store.close())


def post(app: GatewayApp, path: str, body: bytes, content_type: str | None) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client:
            headers = {"content-type": content_type} if content_type else {}
            return await client.post(path, content=body, headers=headers)

    return asyncio.run(send())


CONTENT_TYPES = st.sampled_from(
    [
        None,
        "application/x-www-form-urlencoded",
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=x",
        "\x00",
    ]
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
FIELD_NAMES = st.sampled_from(
    ["mchId", "mchRefundNo", "payOrderId", "refundAmount", "loginName", "clientIp", "device",
     "currency", "channelId", "notifyUrl", "password", "sign", "extra"]
)  # fmt: skip
BODIES = st.one_of(
    st.binary(max_size=600),
    st.text(max_size=300).map(str.encode),
    st.dictionaries(FIELD_NAMES, JSON_VALUES, max_size=12).map(params_body),
    st.dictionaries(FIELD_NAMES, JSON_VALUES, max_size=12).map(lambda d: json.dumps(d).encode()),
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=BODIES,
    content_type=CONTENT_TYPES,
    path=st.sampled_from(["/v1/refund_order", "/v1/query_refund"]),
)
def test_unsigned_input_of_any_shape_is_refused_and_changes_nothing(
    served: tuple[GatewayApp, Path], body: bytes, content_type: str | None, path: str
) -> None:
    app, db_path = served
    before = db_snapshot(db_path)
    response = post(app, path, body, content_type)
    assert response.status_code in (200, 413)
    answer = response.json()
    assert answer["retCode"] == "FAIL"
    assert answer["errCode"] != "SYSTEMERROR"
    assert db_snapshot(db_path) == before


SIGNED_OVERRIDES = st.fixed_dictionaries(
    {},
    optional={
        "mchRefundNo": st.text(max_size=35) | st.integers(),
        "payOrderId": st.sampled_from(["ALI-1", "UPI-1", "CARD-1", "NOPE"]) | st.text(max_size=70),
        "refundAmount": st.integers(-5, 12_000).map(str)
        | st.integers(0, 2**32)
        | st.text(max_size=12),
        "loginName": st.sampled_from(["vincent", "viewer", "nobody"]),
        "clientIp": st.sampled_from(["127.0.0.1", "::1", "bad"]),
        "currency": st.sampled_from(["CAD", "USD", "cad", ""]),
        "channelId": st.sampled_from(["ALIPAY_QR", "UPI_SEQ", "WX_NATIVE"]),
        "notifyUrl": st.sampled_from(["https://m.example/n", "ftp://x", "https://m.example/n?a=1"]),
        "device": st.text(max_size=70),
    },
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(overrides=SIGNED_OVERRIDES)
def test_signed_requests_get_a_clear_answer_and_never_over_refund(
    served: tuple[GatewayApp, Path], overrides: dict[str, Any]
) -> None:
    app, db_path = served
    response = post(
        app, "/v1/refund_order", params_body(signed_fields(refund_fields(**overrides))), None
    )
    assert response.status_code == 200
    answer = response.json()
    assert answer.get("errCode") != "SYSTEMERROR"
    if answer["retCode"] == "SUCCESS":
        assert verify(answer, answer["sign"], [KEY])
    with sqlite3.connect(db_path) as connection:
        over = connection.execute(
            "SELECT count(*) FROM pay_orders o"
            " WHERE o.refunded_amount + o.reserved_amount > o.amount"
            " OR o.refunded_amount + o.reserved_amount != (SELECT coalesce(sum(r.amount), 0)"
            " FROM refunds r WHERE r.mch_id = o.mch_id AND r.pay_order_id = o.pay_order_id"
            " AND r.status != 'FAILED')"
        ).fetchone()[0]
    assert over == 0
