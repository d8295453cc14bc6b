"""The rules a refund must pass before its amount is reserved."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from refundgate.domain import (
    ChannelFamily,
    ChannelMismatch,
    ChannelNotSupported,
    CurrencyMismatch,
    OrderNotFound,
    OrderNotRefundable,
    OrderStatus,
    PayOrder,
    RefundAmountExceeded,
    RefundDraft,
    RefundLimitExceeded,
    RefundRequest,
    check_refund,
    family_of,
)

NOW = 1_767_268_800_000
DAY = 86_400_000


def order(channel_id: str = "ALIPAY_QR", **changes: object) -> PayOrder:
    base = PayOrder("M1", "P1", channel_id, "CAD", 10_000, paid_at=NOW - DAY)
    return replace(base, **changes)  # type: ignore[arg-type]


def draft(amount: int = 100, *, at: int = NOW, **changes: object) -> RefundDraft:
    request = replace(RefundRequest("M1", "R1", "P1", amount, "op", "127.0.0.1"), **changes)  # type: ignore[arg-type]
    return RefundDraft(request, "RID1", at)


@pytest.mark.parametrize(
    ("channel_id", "family"),
    [
        ("WX_JSAPI", ChannelFamily.WECHAT),
        ("WX_NATIVE", ChannelFamily.WECHAT),
        ("WX_MICROPAY", ChannelFamily.WECHAT),
        ("WX_APP", ChannelFamily.WECHAT),
        ("WX_MWEB", ChannelFamily.WECHAT),
        ("ALIPAY_MOBILE", ChannelFamily.ALIPAY),
        ("ALIPAY_PC", ChannelFamily.ALIPAY),
        ("ALIPAY_WAP", ChannelFamily.ALIPAY),
        ("ALIPAY_QR", ChannelFamily.ALIPAY),
        ("ALIPAY_MICROPAY", ChannelFamily.ALIPAY),
        ("UPI_MICROPAY", ChannelFamily.UNIONPAY),
        ("UPI_QR", ChannelFamily.UNIONPAY),
        ("UPI_SEQ", ChannelFamily.UNIONPAY),
        ("UPI_APP", ChannelFamily.UNIONPAY),
        ("CC_PAX", None),
        ("PF_CC", None),
        ("UPI_EX", None),
        ("WX_", None),
        ("wx_native", None),
        ("", None),
    ],
)
def test_channel_ids_map_to_families(channel_id: str, family: ChannelFamily | None) -> None:
    assert family_of(channel_id) == family


def test_a_valid_refund_names_its_family() -> None:
    assert check_refund(order(), draft()) is ChannelFamily.ALIPAY


def test_a_missing_order_is_not_found() -> None:
    with pytest.raises(OrderNotFound):
        check_refund(None, draft())


def test_another_merchants_order_looks_missing() -> None:
    with pytest.raises(OrderNotFound):
        check_refund(order(mch_id="M2"), draft())


def test_a_closed_order_is_not_refundable() -> None:
    with pytest.raises(OrderNotRefundable):
        check_refund(order(status=OrderStatus.CLOSED), draft())


def test_card_orders_are_not_supported() -> None:
    with pytest.raises(ChannelNotSupported):
        check_refund(order("CC_PAX"), draft())


def test_a_given_currency_must_match() -> None:
    with pytest.raises(CurrencyMismatch):
        check_refund(order(), draft(currency="USD"))


def test_a_given_channel_must_match() -> None:
    with pytest.raises(ChannelMismatch):
        check_refund(order(), draft(channel_id="ALIPAY_PC"))


def test_the_whole_remaining_amount_may_be_refunded() -> None:
    assert check_refund(order(refunded_amount=6_000, reserved_amount=3_000), draft(1_000))


def test_one_cent_more_than_remains_is_refused() -> None:
    with pytest.raises(RefundAmountExceeded):
        check_refund(order(refunded_amount=6_000, reserved_amount=3_000), draft(1_001))


def test_wechat_refunds_close_after_365_days() -> None:
    paid_at = NOW - 365 * DAY
    assert check_refund(order("WX_NATIVE", paid_at=paid_at), draft())
    with pytest.raises(RefundLimitExceeded, match="365"):
        check_refund(order("WX_NATIVE", paid_at=paid_at - 1), draft())


def test_wechat_allows_at_most_50_refunds_per_order() -> None:
    assert check_refund(order("WX_NATIVE", refund_count=49), draft())
    with pytest.raises(RefundLimitExceeded, match="50"):
        check_refund(order("WX_NATIVE", refund_count=50), draft())


def test_wechat_refunds_of_one_order_are_a_minute_apart() -> None:
    last = NOW - 59_999
    with pytest.raises(RefundLimitExceeded, match="60 s"):
        check_refund(order("WX_NATIVE", last_refund_at=last), draft())
    assert check_refund(order("WX_NATIVE", last_refund_at=NOW - 60_000), draft())


def test_alipay_has_no_spacing_or_count_limit() -> None:
    assert check_refund(order(refund_count=500, last_refund_at=NOW), draft())


def test_unionpay_qr_products_refund_for_30_days_and_cards_longer() -> None:
    with pytest.raises(RefundLimitExceeded):
        check_refund(order("UPI_QR", paid_at=NOW - 31 * DAY), draft())
    assert check_refund(order("UPI_SEQ", paid_at=NOW - 31 * DAY), draft())
    with pytest.raises(RefundLimitExceeded):
        check_refund(order("UPI_SEQ", paid_at=NOW - 331 * DAY), draft())


def test_rules_are_checked_in_the_documented_order() -> None:
    closed_card_order = order("CC_PAX", status=OrderStatus.CLOSED)
    with pytest.raises(OrderNotRefundable):
        check_refund(closed_card_order, draft(999_999, currency="USD"))


def test_windows_are_whole_days() -> None:
    assert timedelta(days=365) // timedelta(milliseconds=1) == 365 * DAY
