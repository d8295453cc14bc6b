"""Each channel's refund limits (channels.md): ``REFUND_LIMIT_EXCEEDED``.

WeChat Pay: refunds of one order at least 60 s apart, at most 50, within 365
days. UnionPay QR products: within 30 days. Refusals change nothing (G5).
"""

from __future__ import annotations

from tests.api.support import assert_accepted, assert_refused, nothing_changes
from tests.conftest import DAY_MS, NOW_MS, Gateway

MINUTE_MS = 60_000


async def wechat_refund(gateway: Gateway, number: str, amount: str = "100") -> dict[str, object]:
    return await gateway.refund(mchRefundNo=number, payOrderId="WX-1", refundAmount=amount)


async def test_a_second_wechat_refund_within_a_minute_is_refused(gateway: Gateway) -> None:
    await wechat_refund(gateway, "R-1")
    gateway.clock.advance(MINUTE_MS - 1)

    with nothing_changes(gateway):
        answer = await wechat_refund(gateway, "R-2")

    assert_refused(answer, "REFUND_LIMIT_EXCEEDED", mch_refund_no="R-2", pay_order_id="WX-1")


async def test_a_second_wechat_refund_a_minute_later_is_accepted(gateway: Gateway) -> None:
    await wechat_refund(gateway, "R-1")
    gateway.clock.advance(MINUTE_MS)

    answer = await wechat_refund(gateway, "R-2")

    assert_accepted(answer, status=2)


async def test_spacing_is_per_order(gateway: Gateway) -> None:
    await gateway.add_order("WX-2", "WX_NATIVE", 10_000)
    await wechat_refund(gateway, "R-1")

    answer = await gateway.refund(mchRefundNo="R-2", payOrderId="WX-2")

    assert_accepted(answer, status=2)


async def test_alipay_has_no_spacing(gateway: Gateway) -> None:
    await gateway.refund(mchRefundNo="R-1")

    answer = await gateway.refund(mchRefundNo="R-2")

    assert_accepted(answer, status=2)


async def test_the_51st_wechat_refund_of_an_order_is_refused(gateway: Gateway) -> None:
    for n in range(50):
        assert_accepted(await wechat_refund(gateway, f"R-{n}", "10"), status=2)
        gateway.clock.advance(MINUTE_MS)

    with nothing_changes(gateway):
        answer = await wechat_refund(gateway, "R-50", "10")

    assert_refused(answer, "REFUND_LIMIT_EXCEEDED", mch_refund_no="R-50", pay_order_id="WX-1")
    assert "50" in answer["errCodeDes"]


async def test_a_wechat_order_can_be_refunded_on_its_365th_day(gateway: Gateway) -> None:
    await gateway.add_order("WX-OLD", "WX_NATIVE", 10_000, paid_at=NOW_MS - 365 * DAY_MS)

    answer = await gateway.refund(payOrderId="WX-OLD")

    assert_accepted(answer, status=2)


async def test_a_wechat_order_past_365_days_is_refused(gateway: Gateway) -> None:
    await gateway.add_order("WX-OLD", "WX_NATIVE", 10_000, paid_at=NOW_MS - 365 * DAY_MS - 1)

    with nothing_changes(gateway):
        answer = await gateway.refund(payOrderId="WX-OLD")

    assert_refused(answer, "REFUND_LIMIT_EXCEEDED", pay_order_id="WX-OLD")


async def test_a_unionpay_qr_order_past_30_days_is_refused(gateway: Gateway) -> None:
    await gateway.add_order("UPIQR-OLD", "UPI_QR", 10_000, paid_at=NOW_MS - 31 * DAY_MS)

    with nothing_changes(gateway):
        answer = await gateway.refund(payOrderId="UPIQR-OLD")

    assert_refused(answer, "REFUND_LIMIT_EXCEEDED", pay_order_id="UPIQR-OLD")


async def test_a_unionpay_qr_order_within_30_days_is_accepted(gateway: Gateway) -> None:
    await gateway.add_order("UPIQR-1", "UPI_QR", 10_000, paid_at=NOW_MS - 29 * DAY_MS)

    answer = await gateway.refund(payOrderId="UPIQR-1")

    assert_accepted(answer, status=2)


async def test_a_unionpay_card_order_is_not_held_to_the_qr_window(gateway: Gateway) -> None:
    await gateway.add_order("UPI-OLD", "UPI_SEQ", 10_000, paid_at=NOW_MS - 31 * DAY_MS)

    answer = await gateway.refund(payOrderId="UPI-OLD")

    assert_accepted(answer, status=2)


async def test_the_window_is_measured_at_the_time_of_the_request(gateway: Gateway) -> None:
    await gateway.add_order("UPIQR-1", "UPI_QR", 10_000, paid_at=NOW_MS - 29 * DAY_MS)
    gateway.clock.advance(2 * DAY_MS)

    with nothing_changes(gateway):
        answer = await gateway.refund(payOrderId="UPIQR-1")

    assert_refused(answer, "REFUND_LIMIT_EXCEEDED", pay_order_id="UPIQR-1")
