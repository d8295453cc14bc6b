"""Refund notifies: the simulator sends them, the connector opens them, fakes are refused."""

from __future__ import annotations

import base64

import pytest

from refundgate.channels.wechat import wire
from refundgate.ports import CallbackInvalid, ChannelResult
from refundgate.sandbox.simulator import RefundState
from tests.channels.wechat.conftest import Rig
from tests.channels.wechat.support import channel_refund


async def _refund_and_settle(rig: Rig, fault: str | None = None) -> None:
    await rig.trade()
    if fault:
        await rig.fault(fault)
    await rig.connector.refund(channel_refund())
    await rig.simulator.sim.settle()


async def test_a_settled_refund_is_notified_and_acknowledged(rig: Rig) -> None:
    await _refund_and_settle(rig)

    (callback,) = rig.receiver.accepted
    assert callback.refund_order_id == "R0000000001"
    assert callback.outcome.result is ChannelResult.SUCCEEDED
    assert callback.ack_body == wire.ACK
    assert [d.acknowledged for d in rig.simulator.sim.callbacks.deliveries] == [True]


async def test_a_closed_refund_is_notified_as_failed(rig: Rig) -> None:
    await _refund_and_settle(rig, "settle_failed")

    (callback,) = rig.receiver.accepted
    assert (callback.outcome.result, callback.outcome.code) == (ChannelResult.FAILED, "REFUNDCLOSE")


async def test_a_duplicate_notify_parses_to_the_same_outcome(rig: Rig) -> None:
    await _refund_and_settle(rig, "duplicate_callback")

    first, second = rig.receiver.accepted
    assert first == second


async def test_a_late_notify_parses_to_the_same_outcome_as_the_query(rig: Rig) -> None:
    await _refund_and_settle(rig, "late_callback")
    queried = await rig.connector.query(channel_refund())
    assert rig.receiver.accepted == []

    await rig.simulator.sim.drain()

    (callback,) = rig.receiver.accepted
    assert callback.outcome == queried


async def test_an_unacknowledged_notify_is_sent_again_until_acknowledged(rig: Rig) -> None:
    rig.receiver.fail_first = 2

    await _refund_and_settle(rig)

    deliveries = rig.simulator.sim.callbacks.deliveries
    assert [(d.status, d.acknowledged) for d in deliveries] == [
        (500, False),
        (500, False),
        (200, True),
    ]
    assert len(rig.receiver.accepted) == 1


async def test_the_simulator_gives_up_after_its_schedule(rig: Rig) -> None:
    rig.receiver.fail_first = 10

    await _refund_and_settle(rig)

    assert len(rig.simulator.sim.callbacks.deliveries) == 3
    assert rig.receiver.accepted == []


def _notify(rig: Rig) -> bytes:
    refund = rig.simulator.sim.ledger.refund("R0000000001")
    assert refund is not None
    notice = rig.simulator.notice(refund)
    assert notice is not None
    return notice.body


async def _settled(rig: Rig) -> None:
    await rig.trade()
    await rig.connector.refund(channel_refund())
    refund = rig.simulator.sim.ledger.refund("R0000000001")
    assert refund is not None
    refund.state = RefundState.SUCCEEDED


async def test_a_notify_with_one_byte_changed_in_req_info_is_refused(rig: Rig) -> None:
    await _settled(rig)
    outer = wire.decode_xml(_notify(rig))
    cipher = bytearray(base64.b64decode(outer["req_info"]))
    cipher[-1] ^= 1
    outer["req_info"] = base64.b64encode(bytes(cipher)).decode()

    with pytest.raises(CallbackInvalid):
        rig.connector.parse_callback(wire.encode_xml(outer), "text/xml")


@pytest.mark.parametrize(
    ("field", "value"),
    [("appid", "wx0000000000000000"), ("mch_id", "1999999999"), ("return_code", "FAIL")],
)
async def test_a_notify_for_someone_else_is_refused(rig: Rig, field: str, value: str) -> None:
    await _settled(rig)
    outer = {**wire.decode_xml(_notify(rig)), field: value}

    with pytest.raises(CallbackInvalid):
        rig.connector.parse_callback(wire.encode_xml(outer), "text/xml")


@pytest.mark.parametrize(
    "body", [b"", b"garbage", b"<xml><req_info>AAAA</req_info></xml>", wire.ACK]
)
def test_garbage_is_not_a_notify(rig: Rig, body: bytes) -> None:
    with pytest.raises(CallbackInvalid):
        rig.connector.parse_callback(body, "text/xml")


def test_a_refused_notify_is_answered_fail(rig: Rig) -> None:
    status, body, content_type = rig.connector.reject_callback()

    assert status == 400
    assert wire.decode_xml(body)["return_code"] == "FAIL"
    assert content_type.startswith("text/xml")
