"""What the UnionPay simulator checks (channels.md §D.8), with hand-made requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from refundgate.sandbox.unionpay import QUERY_PATH, REFUND_PATH, SandboxPki, acp
from refundgate.sandbox.unionpay.simulator import UnionPaySimulator
from tests.channels.unionpay.conftest import MER_ID, SharedClock, sim_config

BEIJING = timezone(timedelta(hours=8))


class Sim:
    def __init__(self, sim: UnionPaySimulator, client: httpx.AsyncClient, pki: SandboxPki):
        self.sim, self.client, self.pki = sim, client, pki
        self.clock: SharedClock = sim.sim.clock  # type: ignore[assignment]

    async def trade(self, amount: int = 1000, **extra: Any) -> str:
        payload = {"out_trade_no": f"T{amount}{len(extra)}", "amount": amount, **extra}
        response = await self.client.post("/_control/trades", json=payload)
        assert response.status_code == 201, response.text
        return str(response.json()["trade_no"])

    def txn_time(self) -> str:
        return self.clock.now().astimezone(BEIJING).strftime("%Y%m%d%H%M%S")

    def refund_fields(self, trade: str, **changes: str | None) -> dict[str, str]:
        fields: dict[str, str | None] = {
            "version": "5.1.0", "encoding": "UTF-8", "signMethod": "01",
            "certId": str(self.pki.merchant.cert.serial_number), "txnType": "04",
            "txnSubType": "00", "bizType": "000201", "channelType": "07", "accessType": "0",
            "merId": MER_ID, "orderId": "RF20260101000001", "origQryId": trade,
            "txnTime": self.txn_time(), "txnAmt": "100", "currencyCode": "156",
            "backUrl": "http://gateway.test/cb",
        }  # fmt: skip
        fields.update(changes)
        return {k: v for k, v in fields.items() if v is not None}

    async def post(self, path: str, fields: dict[str, str], *, sign: bool = True) -> dict[str, str]:
        if sign:
            fields = acp.signed(fields, self.pki.merchant.key)
        response = await self.client.post(path, content=acp.form_body(fields))
        assert response.status_code == 200
        answer = dict(pair.split("=", 1) for pair in _split(response.text))
        assert acp.signature_matches(answer, self.pki.unionpay.cert)
        return answer


def _split(text: str) -> list[str]:
    # Answers here hold no bracketed values; the PEM holds no '&'.
    return text.split("&")


@pytest.fixture
async def s(pki: SandboxPki) -> AsyncIterator[Sim]:
    clock = SharedClock(datetime.now(UTC))
    sim = UnionPaySimulator(pki=pki, clock=clock, config=sim_config())
    transport = httpx.ASGITransport(app=sim.sim)
    async with httpx.AsyncClient(transport=transport, base_url="http://up.test/unionpay") as c:
        yield Sim(sim, c, pki)
    await sim.sim.aclose()


async def test_a_valid_refund_is_accepted_and_echoed(s: Sim):
    trade = await s.trade()
    answer = await s.post(REFUND_PATH, s.refund_fields(trade))
    assert answer["respCode"] == "00"
    assert (answer["orderId"], answer["txnAmt"], answer["origQryId"]) == (
        "RF20260101000001", "100", trade,
    )  # fmt: skip
    assert answer["queryId"].isdigit()
    assert "BEGIN CERTIFICATE" in answer["signPubKeyCert"]


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"txnAmt": None}, "13"),
        ({"backUrl": None}, "13"),
        ({"certId": None}, "13"),
        ({"version": "5.0.0"}, "10"),
        ({"encoding": "GBK"}, "10"),
        ({"signMethod": "11"}, "10"),
        ({"txnType": "31"}, "10"),
        ({"txnSubType": "01"}, "10"),
        ({"bizType": "999999"}, "10"),
        ({"channelType": "09"}, "10"),
        ({"accessType": "1"}, "10"),
        ({"orderId": "RF-1"}, "10"),
        ({"orderId": "R1234"}, "10"),
        ({"orderId": "R" * 41}, "10"),
        ({"txnTime": "2026010112000"}, "10"),
        ({"txnTime": "20261399120000"}, "10"),
        ({"txnTime": "20200101120000"}, "10"),
        ({"txnAmt": "1.00"}, "10"),
        ({"txnAmt": "0"}, "10"),
        ({"txnAmt": "0100"}, "10"),
        ({"currencyCode": "999"}, "10"),
        ({"merId": "777290058110049"}, "31"),
        ({"certId": "12345"}, "11"),
        ({"origQryId": "800000000000000000099"}, "35"),
        ({"txnAmt": "1001"}, "36"),
        ({"currencyCode": "840"}, "36"),
    ],
)
async def test_each_check_answers_its_code_and_records_nothing(
    s: Sim, changes: dict[str, str | None], code: str
):
    trade = await s.trade()
    answer = await s.post(REFUND_PATH, s.refund_fields(trade, **changes))
    assert answer["respCode"] == code
    assert s.sim.sim.ledger.refunds() == []


async def test_a_bad_signature_is_11(s: Sim):
    fields = acp.signed(s.refund_fields(await s.trade()), s.pki.merchant.key)
    fields["txnAmt"] = "101"
    answer = await s.post(REFUND_PATH, fields, sign=False)
    assert answer["respCode"] == "11"


async def test_an_order_id_is_used_once(s: Sim):
    trade = await s.trade()
    assert (await s.post(REFUND_PATH, s.refund_fields(trade)))["respCode"] == "00"
    again = s.refund_fields(trade, txnTime=s.txn_time())
    assert (await s.post(REFUND_PATH, again))["respCode"] == "12"
    assert len(s.sim.sim.ledger.refunds()) == 1


async def test_an_old_payment_is_35_too_old(s: Sim):
    paid = (datetime.now(UTC) - timedelta(days=331)).isoformat()
    answer = await s.post(REFUND_PATH, s.refund_fields(await s.trade(paid_at=paid)))
    assert (answer["respCode"], "[4040007]" in answer["respMsg"]) == ("35", True)


async def test_a_body_that_is_no_form_is_10(s: Sim):
    response = await s.client.post(REFUND_PATH, content=b"a=1&a=2")
    assert "respCode=10" in response.text


async def test_the_query_names_the_refund_by_order_id_and_txn_time(s: Sim):
    fields = s.refund_fields(await s.trade())
    await s.post(REFUND_PATH, fields)
    query = {k: fields[k] for k in ("version", "encoding", "signMethod", "certId", "accessType",
                                    "merId", "orderId", "txnTime")}  # fmt: skip
    query.update(txnType="00", txnSubType="00", bizType="000000")
    answer = await s.post(QUERY_PATH, query)
    assert (answer["respCode"], answer["origRespCode"]) == ("00", "05")
    await s.sim.sim.settle()
    assert (await s.post(QUERY_PATH, query))["origRespCode"] == "00"
    other_time = {**query, "txnTime": "20250101000000"}
    assert (await s.post(QUERY_PATH, other_time))["respCode"] == "34"
    assert (await s.post(QUERY_PATH, {**query, "bizType": "000201"}))["respCode"] == "10"


async def test_credentials_hold_what_a_client_needs(s: Sim):
    credentials = (await s.client.get("/_control/credentials")).json()
    assert credentials["mer_id"] == MER_ID
    assert credentials["cert_id"] == str(s.pki.merchant.cert.serial_number)
    assert {"sign_key_pem", "sign_cert_pem", "verify_cert_pem", "verify_identity"} <= set(
        credentials
    )
    assert credentials["verify_cert_pem"].count("BEGIN CERTIFICATE") == 2
