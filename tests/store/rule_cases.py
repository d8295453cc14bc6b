"""Orders and refund drafts at the edges of the refund rules, for holding a store's
rules in SQL to the domain's (``domain.rules.check_refund``)."""

from __future__ import annotations

from hypothesis import strategies as st

from refundgate.domain import PayOrder, RefundDraft, RefundRequest
from refundgate.domain.errors import RefundRefused
from refundgate.domain.model import OrderStatus
from refundgate.domain.rules import check_refund
from tests.conftest import DAY_MS, MCH_ID, NOW_MS, OTHER_MCH_ID

__all__ = ["domain_allows", "orders_and_drafts"]

CHANNELS = [
    "WX_NATIVE", "WX_", "WX", "ALIPAY_QR", "ALIPAY_", "UPI_SEQ", "UPI_QR", "UPI_MICROPAY",
    "UPI_EX", "UPI_", "CC_PAX", "wx_native",
]  # fmt: skip
#: The policy windows' edges, and a millisecond either side of them.
AGES_MS = sorted({days * DAY_MS + delta for days in (0, 30, 330, 365) for delta in (-1, 0, 1)})


@st.composite
def orders_and_drafts(draw: st.DrawFn) -> tuple[PayOrder, RefundDraft]:
    amount = draw(st.sampled_from([1, 100, 10_000]))
    refunded = draw(st.integers(0, amount))
    reserved = draw(st.integers(0, amount - refunded))
    count = draw(st.sampled_from([0, 1, 49, 50, 51]))
    gap = draw(st.sampled_from([None, 0, 59_999, 60_000, 60_001]))
    order = PayOrder(
        mch_id=draw(st.sampled_from([MCH_ID, OTHER_MCH_ID])),
        pay_order_id="PROP",
        channel_id=draw(st.sampled_from(CHANNELS)),
        currency=draw(st.sampled_from(["CAD", "CNY"])),
        amount=amount,
        paid_at=NOW_MS - max(0, draw(st.sampled_from(AGES_MS))),
        status=draw(st.sampled_from(OrderStatus)),
        refunded_amount=refunded,
        reserved_amount=reserved,
        refund_count=count,
        last_refund_at=None if gap is None else NOW_MS - gap,
    )
    remaining = amount - refunded - reserved
    request = RefundRequest(
        mch_id=MCH_ID,
        mch_refund_no="N1",
        pay_order_id="PROP",
        amount=draw(st.sampled_from([1, max(1, remaining), remaining + 1])),
        login_name="vincent",
        client_ip="127.0.0.1",
        currency=draw(st.sampled_from([None, "CAD", "CNY"])),
        channel_id=draw(st.sampled_from([None, order.channel_id, "ALIPAY_QR", "WX_NATIVE"])),
    )
    return order, RefundDraft(request, "RIDPROP", NOW_MS)


def domain_allows(order: PayOrder, draft: RefundDraft) -> bool:
    """Whether the domain's rules let ``order`` take ``draft``."""
    try:
        check_refund(order, draft)
    except RefundRefused:
        return False
    return True
