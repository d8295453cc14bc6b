"""Every row of PROTOCOL.md's error-code table, through HTTP.

Protocol-level failures are unsigned ``retCode=FAIL`` answers; business
refusals are signed ``resCode=FAIL`` answers that echo the request. Either
way nothing changes and no channel hears of it (G5).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx

from refundgate.api import GatewayApp
from refundgate.domain.merchant import Merchant, MerchantStatus, Operator
from refundgate.domain.model import OrderStatus, PayOrder, Refund, RefundDraft, SandboxOutcome
from refundgate.domain.secret import Secret
from refundgate.ports import Access, Reservation, StoreError, Transition
from refundgate.store.sqlite import SqliteStore
from tests.api.support import (
    assert_accepted,
    assert_protocol_failure,
    assert_refused,
    assert_signed,
    nothing_changes,
    order_row,
    refund_row,
    rows,
)
from tests.conftest import (
    MCH_ID,
    NOW_MS,
    OTHER_KEY,
    Gateway,
    params_body,
    refund_fields,
    signed_fields,
)

# -- retCode=FAIL: the request is not one we can act on ----------------------


async def test_a_malformed_field_is_a_param_error_naming_the_field(gateway: Gateway) -> None:
    with nothing_changes(gateway):
        answer = await gateway.refund(refundAmount="12.50")

    assert_protocol_failure(answer, "PARAM_ERROR", names="refundAmount")


async def test_a_wrong_signature_is_a_sign_error(gateway: Gateway) -> None:
    with nothing_changes(gateway):
        answer = await gateway.refund(key="NOT-THE-KEY")

    assert_protocol_failure(answer, "SIGN_ERROR")
    assert answer["retMsg"] == "signature error"


async def test_a_field_added_after_signing_is_a_sign_error(gateway: Gateway) -> None:
    fields = {**signed_fields(refund_fields()), "refundAmount": "9999"}

    with nothing_changes(gateway):
        response = await gateway.post("/v1/refund_order", params_body(fields))

    assert_protocol_failure(response.json(), "SIGN_ERROR")


async def test_the_other_merchants_key_does_not_sign_for_this_merchant(gateway: Gateway) -> None:
    with nothing_changes(gateway):
        answer = await gateway.refund(key=OTHER_KEY)

    assert_protocol_failure(answer, "SIGN_ERROR")


async def test_an_unknown_merchant_is_mch_not_exist(gateway: Gateway) -> None:
    with nothing_changes(gateway):
        answer = await gateway.refund(mchId="99999999")

    assert_protocol_failure(answer, "MCH_NOT_EXIST")


async def test_a_disabled_merchant_is_mch_disabled(gateway: Gateway) -> None:
    disabled = Merchant("30000003", Secret("OFFKEY789"), status=MerchantStatus.DISABLED)
    await gateway.store.add_merchant(disabled, now=NOW_MS)
    await gateway.store.add_operator(Operator("30000003", "dora"), now=NOW_MS)
    await gateway.add_order("OFF-1", "ALIPAY_QR", 10_000, mch_id="30000003")

    with nothing_changes(gateway):
        answer = await gateway.refund(
            key="OFFKEY789", mchId="30000003", loginName="dora", payOrderId="OFF-1"
        )

    assert_protocol_failure(answer, "MCH_DISABLED")


async def test_a_disabled_merchants_status_is_not_told_to_a_wrong_signature(
    gateway: Gateway,
) -> None:
    disabled = Merchant("30000003", Secret("OFFKEY789"), status=MerchantStatus.DISABLED)
    await gateway.store.add_merchant(disabled, now=NOW_MS)

    with nothing_changes(gateway):
        answer = await gateway.refund(key="GUESSED", mchId="30000003", payOrderId="OFF-1")
        query = await gateway.query(key="GUESSED", mchId="30000003", mchRefundNo="R-1")

    assert_protocol_failure(answer, "SIGN_ERROR")
    assert_protocol_failure(query, "SIGN_ERROR")


async def test_an_unknown_operator_is_login_name_invalid(gateway: Gateway) -> None:
    with nothing_changes(gateway):
        answer = await gateway.refund(loginName="mallory")

    assert_protocol_failure(answer, "LOGIN_NAME_INVALID")


async def test_an_operator_who_may_not_refund_is_login_name_invalid(gateway: Gateway) -> None:
    with nothing_changes(gateway):
        answer = await gateway.refund(loginName="viewer")

    assert_protocol_failure(answer, "LOGIN_NAME_INVALID")


async def test_another_merchants_operator_is_login_name_invalid(gateway: Gateway) -> None:
    with nothing_changes(gateway):
        answer = await gateway.refund(loginName="olga")

    assert_protocol_failure(answer, "LOGIN_NAME_INVALID")


async def test_an_inactive_operator_is_login_name_invalid(gateway: Gateway) -> None:
    await gateway.store.add_operator(Operator(MCH_ID, "gone", active=False), now=NOW_MS)

    with nothing_changes(gateway):
        answer = await gateway.refund(loginName="gone")

    assert_protocol_failure(answer, "LOGIN_NAME_INVALID")


# -- SYSTEMERROR: our fault ----------------------------------------------------


class BrokenStore:
    """The real store, except that the named operations fail as a lost database does."""

    def __init__(self, store: SqliteStore, *failing: str) -> None:
        self._store = store
        self._failing = set(failing)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def _fail_if(self, operation: str) -> None:
        if operation in self._failing:
            raise StoreError(f"sqlite: OperationalError: disk I/O error in {operation}")

    async def access(self, mch_id: str, login_name: str | None) -> Access | None:
        self._fail_if("access")
        return await self._store.access(mch_id, login_name)

    async def reserve(self, draft: RefundDraft) -> Reservation:
        self._fail_if("reserve")
        return await self._store.reserve(draft)

    async def transition(
        self, refund_order_id: str, change: Transition, *, known: Refund | None = None
    ) -> Any:
        self._fail_if("transition")
        return await self._store.transition(refund_order_id, change, known=known)


@asynccontextmanager
async def client_over(gateway: Gateway, store: BrokenStore) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a second app: the gateway's dependencies over ``store``."""
    app = GatewayApp(replace(gateway.deps, store=store))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        yield client


async def post_refund(client: httpx.AsyncClient, **overrides: Any) -> httpx.Response:
    body = params_body(signed_fields(refund_fields(**overrides)))
    headers = {"content-type": "application/x-www-form-urlencoded"}
    return await client.post("/v1/refund_order", content=body, headers=headers)


async def test_a_failed_reservation_is_a_system_error_and_changes_nothing(
    gateway: Gateway,
) -> None:
    async with client_over(gateway, BrokenStore(gateway.store, "reserve")) as client:
        with nothing_changes(gateway):
            response = await post_refund(client)

    assert response.status_code == 200
    assert_protocol_failure(response.json(), "SYSTEMERROR")


async def test_an_unreachable_database_at_lookup_is_a_system_error(gateway: Gateway) -> None:
    async with client_over(gateway, BrokenStore(gateway.store, "access")) as client:
        with nothing_changes(gateway):
            response = await post_refund(client)

    assert response.status_code == 200
    assert_protocol_failure(response.json(), "SYSTEMERROR")


async def test_a_store_failure_after_the_channel_call_answers_the_reserved_refund(
    gateway: Gateway,
) -> None:
    # The reservation is committed and the channel refunded; only recording the
    # outcome failed. SYSTEMERROR means "nothing changed" and invites a retry
    # under a new number, so the answer must be the refund as stored.
    async with client_over(gateway, BrokenStore(gateway.store, "transition")) as client:
        response = await post_refund(client)

    answer = response.json()
    [call] = gateway.ledger.calls
    assert response.status_code == 200
    assert_accepted(answer, status=0)
    assert answer["refundOrderId"] == call.refund_order_id
    assert refund_row(gateway, call.refund_order_id)["status"] == "PENDING"


# -- resCode=FAIL: a business rule says no ---------------------------------------


async def test_an_unknown_order_is_order_not_exist(gateway: Gateway) -> None:
    with nothing_changes(gateway):
        answer = await gateway.refund(payOrderId="NOPE-1")

    assert_refused(answer, "ORDER_NOT_EXIST", pay_order_id="NOPE-1")


async def test_another_merchants_order_looks_like_an_unknown_order(gateway: Gateway) -> None:
    with nothing_changes(gateway):
        theirs = await gateway.refund(payOrderId="OTHER-1")
        unknown = await gateway.refund(payOrderId="NOPE-1")

    assert_refused(theirs, "ORDER_NOT_EXIST", pay_order_id="OTHER-1")
    differing = {"payOrderId", "errCodeDes", "sign"}
    assert {k: v for k, v in theirs.items() if k not in differing} == {
        k: v for k, v in unknown.items() if k not in differing
    }
    assert theirs["errCodeDes"].replace("OTHER-1", "NOPE-1") == unknown["errCodeDes"]


async def test_a_closed_order_is_order_not_refundable(gateway: Gateway) -> None:
    closed = PayOrder(MCH_ID, "SHUT-1", "ALIPAY_QR", "CAD", 10_000, NOW_MS, OrderStatus.CLOSED)
    await gateway.store.add_order(closed)

    with nothing_changes(gateway):
        answer = await gateway.refund(payOrderId="SHUT-1")

    assert_refused(answer, "ORDER_NOT_REFUNDABLE", pay_order_id="SHUT-1")


async def test_a_card_order_is_channel_not_supported(gateway: Gateway) -> None:
    with nothing_changes(gateway):
        answer = await gateway.refund(payOrderId="CARD-1")

    assert_refused(answer, "CHANNEL_NOT_SUPPORTED", pay_order_id="CARD-1")


async def test_another_currency_than_the_orders_is_currency_mismatch(gateway: Gateway) -> None:
    with nothing_changes(gateway):
        answer = await gateway.refund(currency="USD")

    assert_refused(answer, "CURRENCY_MISMATCH")


async def test_another_channel_than_the_orders_is_channel_mismatch(gateway: Gateway) -> None:
    with nothing_changes(gateway):
        answer = await gateway.refund(channelId="WX_NATIVE")

    assert_refused(answer, "CHANNEL_MISMATCH")


async def test_more_than_the_paid_amount_is_refund_amount_exceeded(gateway: Gateway) -> None:
    with nothing_changes(gateway):
        answer = await gateway.refund(refundAmount="10001")

    assert_refused(answer, "REFUND_AMOUNT_EXCEEDED")


async def test_a_number_reused_with_other_parameters_is_a_conflict(gateway: Gateway) -> None:
    await gateway.refund(refundAmount="100")

    with nothing_changes(gateway):
        answer = await gateway.refund(refundAmount="200")

    assert_refused(answer, "MCH_REFUND_NO_CONFLICT")


async def test_a_channel_refusal_is_channel_rejected_with_status_3(gateway: Gateway) -> None:
    await gateway.add_order("ALI-NO", "ALIPAY_QR", 10_000, outcome=SandboxOutcome.FAIL)

    answer = await gateway.refund(payOrderId="ALI-NO", refundAmount="10000")

    assert_refused(answer, "CHANNEL_REJECTED", pay_order_id="ALI-NO")
    assert answer["status"] == 3
    assert answer["errCodeDes"].startswith("ACQ.SELLER_BALANCE_NOT_ENOUGH")
    assert answer["refundOrderId"] == gateway.ledger.calls[0].refund_order_id
    assert answer["refundAmount"] == 10_000


async def test_a_channel_refusal_releases_the_reservation(gateway: Gateway) -> None:
    await gateway.add_order("ALI-NO", "ALIPAY_QR", 10_000, outcome=SandboxOutcome.FAIL)
    await gateway.refund(mchRefundNo="R-1", payOrderId="ALI-NO", refundAmount="10000")

    again = await gateway.refund(mchRefundNo="R-2", payOrderId="ALI-NO", refundAmount="10000")

    assert_refused(again, "CHANNEL_REJECTED", mch_refund_no="R-2", pay_order_id="ALI-NO")
    assert len(gateway.ledger.calls) == 2
    order = order_row(gateway, "ALI-NO")
    assert (order["reserved_amount"], order["refunded_amount"]) == (0, 0)


async def test_wechat_and_unionpay_refusals_carry_their_own_codes(gateway: Gateway) -> None:
    await gateway.add_order("WX-NO", "WX_NATIVE", 10_000, outcome=SandboxOutcome.FAIL)
    await gateway.add_order("UPI-NO", "UPI_SEQ", 10_000, outcome=SandboxOutcome.FAIL)

    wechat = await gateway.refund(mchRefundNo="R-1", payOrderId="WX-NO")
    unionpay = await gateway.refund(mchRefundNo="R-2", payOrderId="UPI-NO")

    assert wechat["errCode"] == unionpay["errCode"] == "CHANNEL_REJECTED"
    assert wechat["errCodeDes"].startswith("NOTENOUGH:")
    assert unionpay["errCodeDes"].startswith("01:")


async def test_a_query_for_an_unknown_refund_is_refund_not_exist(gateway: Gateway) -> None:
    with nothing_changes(gateway):
        answer = await gateway.query(mchRefundNo="NEVER")

    assert answer["retCode"] == "SUCCESS"
    assert answer["resCode"] == "FAIL"
    assert answer["errCode"] == "REFUND_NOT_EXIST"
    assert answer["mchId"] == MCH_ID
    assert answer["mchRefundNo"] == "NEVER"
    assert_signed(answer)


async def test_a_query_for_another_merchants_refund_is_refund_not_exist(gateway: Gateway) -> None:
    theirs = await gateway.refund(
        key=OTHER_KEY, mchId="20000001", loginName="olga", payOrderId="OTHER-1"
    )
    assert_accepted(theirs, status=2, key=OTHER_KEY)

    by_number = await gateway.query(mchRefundNo="R-1")
    by_id = await gateway.query(refundOrderId=theirs["refundOrderId"])

    assert by_number["errCode"] == by_id["errCode"] == "REFUND_NOT_EXIST"
    assert by_id["refundOrderId"] == theirs["refundOrderId"]


async def test_a_query_needs_one_of_the_two_refund_ids(gateway: Gateway) -> None:
    answer = await gateway.query()

    assert_protocol_failure(answer, "PARAM_ERROR", names="mchRefundNo or refundOrderId")


async def test_a_query_with_a_wrong_signature_is_a_sign_error(gateway: Gateway) -> None:
    answer = await gateway.query(key="NOT-THE-KEY", mchRefundNo="R-1")

    assert_protocol_failure(answer, "SIGN_ERROR")


async def test_a_query_for_an_unknown_merchant_is_mch_not_exist(gateway: Gateway) -> None:
    answer = await gateway.query(mchId="99999999", mchRefundNo="R-1")

    assert_protocol_failure(answer, "MCH_NOT_EXIST")


async def test_no_refusal_leaves_an_event_or_an_outbox_row(gateway: Gateway) -> None:
    await gateway.refund(payOrderId="CARD-1")
    await gateway.refund(refundAmount="10001")
    await gateway.refund(loginName="viewer")

    assert rows(gateway, "SELECT * FROM refund_events") == []
    assert rows(gateway, "SELECT * FROM notifications") == []


async def test_a_wrong_signature_is_answered_before_the_operator_is_judged(
    gateway: Gateway,
) -> None:
    # Who may refund is not revealed to a caller without the key.
    unknown = await gateway.refund(key="NOT-THE-KEY", loginName="mallory")
    viewer = await gateway.refund(key="NOT-THE-KEY", loginName="viewer")

    assert unknown == viewer
    assert_protocol_failure(unknown, "SIGN_ERROR")


async def test_a_wrong_signature_is_answered_before_any_business_rule(gateway: Gateway) -> None:
    with nothing_changes(gateway):
        answer = await gateway.refund(key="NOT-THE-KEY", payOrderId="OTHER-1")

    assert_protocol_failure(answer, "SIGN_ERROR")
