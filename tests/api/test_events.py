"""Everything is on record (G6), and merchants hear about final states (G7)."""

from __future__ import annotations

from refundgate.domain.merchant import Merchant, Operator
from refundgate.domain.model import SandboxOutcome
from refundgate.domain.secret import Secret
from tests.api.support import rows
from tests.conftest import NOW_MS, Gateway

NOTIFY_URL = "https://merchant.example/refunds/notify"


def events(gateway: Gateway, refund_order_id: str) -> list[dict[str, object]]:
    return [
        dict(row)
        for row in rows(
            gateway,
            "SELECT kind, from_status, to_status, login_name, client_ip, at"
            " FROM refund_events WHERE refund_order_id = ? ORDER BY event_id",
            refund_order_id,
        )
    ]


def outbox(gateway: Gateway, refund_order_id: str) -> list[dict[str, object]]:
    return [
        dict(row)
        for row in rows(
            gateway,
            "SELECT mch_id, notify_url, refund_status, state FROM notifications"
            " WHERE refund_order_id = ?",
            refund_order_id,
        )
    ]


async def test_a_refund_records_who_asked_then_what_the_channel_said(gateway: Gateway) -> None:
    answer = await gateway.refund(loginName="vincent", clientIp="203.0.113.7")

    requested, settled = events(gateway, answer["refundOrderId"])

    assert requested["kind"] == "requested"
    assert (requested["from_status"], requested["to_status"]) == (None, "PENDING")
    assert (requested["login_name"], requested["client_ip"]) == ("vincent", "203.0.113.7")
    assert requested["at"] == NOW_MS
    assert settled["kind"] == "status"
    assert (settled["from_status"], settled["to_status"]) == ("PENDING", "SUCCEEDED")


async def test_the_stored_refund_names_its_operator_and_address(gateway: Gateway) -> None:
    answer = await gateway.refund(clientIp="2001:db8::1", device="till-3")

    [refund] = rows(
        gateway,
        "SELECT login_name, client_ip, device FROM refunds WHERE refund_order_id = ?",
        answer["refundOrderId"],
    )
    assert tuple(refund) == ("vincent", "2001:db8::1", "till-3")


async def test_a_timed_out_refund_records_that_its_outcome_is_unknown(gateway: Gateway) -> None:
    await gateway.add_order("ALI-SLOW", "ALIPAY_QR", 10_000, outcome=SandboxOutcome.TIMEOUT)

    answer = await gateway.refund(payOrderId="ALI-SLOW")

    steps = [(e["from_status"], e["to_status"]) for e in events(gateway, answer["refundOrderId"])]
    assert steps == [(None, "PENDING"), ("PENDING", "PROCESSING")]


async def test_a_replay_records_nothing_new(gateway: Gateway) -> None:
    answer = await gateway.refund()
    before = events(gateway, answer["refundOrderId"])

    await gateway.refund()

    assert events(gateway, answer["refundOrderId"]) == before


async def test_a_final_state_with_a_notify_url_writes_an_outbox_row(gateway: Gateway) -> None:
    answer = await gateway.refund(notifyUrl=NOTIFY_URL)

    assert outbox(gateway, answer["refundOrderId"]) == [
        {
            "mch_id": "10000576",
            "notify_url": NOTIFY_URL,
            "refund_status": "SUCCEEDED",
            "state": "PENDING",
        }
    ]


async def test_without_any_notify_url_there_is_no_outbox_row(gateway: Gateway) -> None:
    answer = await gateway.refund()

    assert outbox(gateway, answer["refundOrderId"]) == []


async def test_a_channel_refusal_is_notified_too(gateway: Gateway) -> None:
    await gateway.add_order("ALI-NO", "ALIPAY_QR", 10_000, outcome=SandboxOutcome.FAIL)

    answer = await gateway.refund(payOrderId="ALI-NO", notifyUrl=NOTIFY_URL)

    [row] = outbox(gateway, answer["refundOrderId"])
    assert row["refund_status"] == "FAILED"


async def test_an_unsettled_refund_is_not_notified_yet(gateway: Gateway) -> None:
    await gateway.add_order("ALI-SLOW", "ALIPAY_QR", 10_000, outcome=SandboxOutcome.PROCESSING)

    answer = await gateway.refund(payOrderId="ALI-SLOW", notifyUrl=NOTIFY_URL)

    assert outbox(gateway, answer["refundOrderId"]) == []


async def test_the_merchants_default_notify_url_is_used_when_none_is_given(
    gateway: Gateway,
) -> None:
    default = "https://shop.example/iotpay/refunds"
    await gateway.store.add_merchant(
        Merchant("50000005", Secret("DEFKEY5"), notify_url=default), now=NOW_MS
    )
    await gateway.store.add_operator(Operator("50000005", "nina"), now=NOW_MS)
    await gateway.add_order("DEF-1", "ALIPAY_QR", 10_000, mch_id="50000005")

    answer = await gateway.refund(
        key="DEFKEY5", mchId="50000005", loginName="nina", payOrderId="DEF-1"
    )

    [row] = outbox(gateway, answer["refundOrderId"])
    assert row["notify_url"] == default


async def test_the_requests_notify_url_wins_over_the_merchants_default(gateway: Gateway) -> None:
    await gateway.store.add_merchant(
        Merchant("50000005", Secret("DEFKEY5"), notify_url="https://shop.example/default"),
        now=NOW_MS,
    )
    await gateway.store.add_operator(Operator("50000005", "nina"), now=NOW_MS)
    await gateway.add_order("DEF-1", "ALIPAY_QR", 10_000, mch_id="50000005")

    answer = await gateway.refund(
        key="DEFKEY5", mchId="50000005", loginName="nina", payOrderId="DEF-1", notifyUrl=NOTIFY_URL
    )

    [row] = outbox(gateway, answer["refundOrderId"])
    assert row["notify_url"] == NOTIFY_URL
