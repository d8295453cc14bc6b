"""The backUrl notify (channels.md §D.6): verified, read, acknowledged with HTTP 200."""

from __future__ import annotations

import pytest

from refundgate.ports import CallbackInvalid, ChannelResult
from refundgate.sandbox.unionpay import SandboxPki, acp
from tests.channels.unionpay.conftest import Harness, make_connector

FORM = "application/x-www-form-urlencoded; charset=UTF-8"


async def delivered_notify(up: Harness) -> bytes:
    """The body of a genuine notify the simulator sent for a settled refund."""
    await up.connector.refund(up.request(await up.trade(), 400))
    await up.settle()
    return up.sim.sim.callbacks.deliveries[0].body


def forged(pki: SandboxPki, **fields: str) -> bytes:
    """A notify signed with the sandbox UnionPay key, saying what the test wants."""
    base = {
        "version": "5.1.0", "encoding": "UTF-8", "signMethod": "01", "txnType": "04",
        "txnSubType": "00", "merId": "777290058110048", "orderId": "R0000000001",
        "reqReserved": "R0000000001", "txnTime": "20260101200000", "txnAmt": "400",
        "queryId": "900000000000000000001", "respCode": "00", "respMsg": "ok",
        "signPubKeyCert": pki.unionpay.cert_pem,
    }  # fmt: skip
    return acp.form_body(acp.signed({**base, **fields}, pki.unionpay.key))


async def test_a_genuine_notify_is_read_and_acknowledged(up: Harness):
    notify = up.connector.read_notify(await delivered_notify(up), FORM)
    assert notify.refund_order_id == "R0000000001"
    assert notify.amount == 400
    assert notify.attempt.order_id == "R0000000001"
    assert notify.outcome.result is ChannelResult.SUCCEEDED
    [delivery] = up.sim.sim.callbacks.deliveries
    assert (delivery.status, delivery.acknowledged) == (200, True)


async def test_reading_the_same_notify_twice_gives_the_same_callback(up: Harness):
    body = await delivered_notify(up)
    assert up.connector.parse_callback(body, FORM) == up.connector.parse_callback(body, FORM)


async def test_a_notify_with_one_changed_byte_is_refused(up: Harness):
    body = await delivered_notify(up)
    for old, new in [(b"respCode=00", b"respCode=01"), (b"txnAmt=400", b"txnAmt=401"),
                     (b"orderId=R0", b"orderId=R1")]:  # fmt: skip
        with pytest.raises(CallbackInvalid, match="untrusted"):
            up.connector.parse_callback(body.replace(old, new, 1), FORM)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"", FORM), (b"a=1&a=2", FORM), (b"\xff", FORM), (b"{}", "application/json")],
)
async def test_garbage_is_refused(up: Harness, body: bytes, content_type: str):
    with pytest.raises(CallbackInvalid):
        up.connector.parse_callback(body, content_type)


async def test_a_notify_signed_outside_the_chain_is_refused(up: Harness, stranger: SandboxPki):
    with pytest.raises(CallbackInvalid, match="chain"):
        up.connector.parse_callback(forged(stranger), FORM)


@pytest.mark.parametrize(
    "fields",
    [
        {"merId": "777290058110049"},
        {"txnType": "31"},
        {"orderId": "R0000000002"},
        {"orderId": "R0000000001X02"},
        {"txnAmt": ""},
        {"txnAmt": "4.00"},
    ],
)
async def test_a_signed_notify_about_something_else_is_refused(
    up: Harness, pki: SandboxPki, fields: dict[str, str]
):
    with pytest.raises(CallbackInvalid):
        up.connector.parse_callback(forged(pki, **fields), FORM)


async def test_a_later_attempt_names_its_refund_through_req_reserved(up: Harness, pki: SandboxPki):
    notify = up.connector.read_notify(forged(pki, orderId="R0000000001R03"), FORM)
    assert (notify.refund_order_id, notify.attempt.order_id) == ("R0000000001", "R0000000001R03")


@pytest.mark.parametrize(
    ("code", "result"),
    [
        ("00", ChannelResult.SUCCEEDED),
        ("A6", ChannelResult.SUCCEEDED),
        ("01", ChannelResult.FAILED),
        ("64", ChannelResult.FAILED),
        ("03", ChannelResult.PROCESSING),
        ("05", ChannelResult.PROCESSING),
        ("99", ChannelResult.PROCESSING),  # unknown is not failed (G4)
        ("", ChannelResult.PROCESSING),
    ],
)
async def test_the_notify_code_says_what_became_of_the_refund(
    up: Harness, pki: SandboxPki, code: str, result: ChannelResult
):
    callback = up.connector.parse_callback(forged(pki, respCode=code), FORM)
    assert callback.outcome.result is result


async def test_a_refused_notify_is_sent_again_until_the_retries_run_out(
    up: Harness, stranger: SandboxPki
):
    credentials = {**up.sim.credentials(), "verify_cert_pem": stranger.verify_bundle_pem}
    up.inbox.parser = make_connector(up.sim, up.clock, up.client, up.base_url, [].append,
                                     credentials=credentials)  # fmt: skip
    await up.connector.refund(up.request(await up.trade()))
    await up.settle()
    deliveries = up.sim.sim.callbacks.deliveries
    assert [(d.status, d.acknowledged) for d in deliveries] == [(400, False)] * 3
    assert up.inbox.accepted == []
    assert up.connector.reject_callback()[0] != 200
