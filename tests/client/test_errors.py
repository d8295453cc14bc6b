"""Every error code of PROTOCOL.md, produced by the real app, raised as its one class.

The rows below are :data:`refundgate.client.CODE_CLASSES`, each driven by a
request the app really refuses that way. Then the classes the table does not
reach: refusals the SDK makes itself, before sending, and configuration errors.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import httpx
import pytest

from refundgate.api import GatewayApp
from refundgate.client import (
    CODE_CLASSES,
    AmountTypeError,
    AuthenticationError,
    ConfigurationError,
    GatewayUnavailable,
    InvalidAmount,
    InvalidRequest,
    RefundClient,
    RefundGateError,
    RefundNotFound,
    RefundNumberConflict,
    RefundRefused,
    RefundRejected,
    RefundStatus,
)
from refundgate.domain.merchant import Merchant, MerchantStatus, Operator
from refundgate.domain.model import OrderStatus, PayOrder, SandboxOutcome
from refundgate.domain.secret import Secret
from refundgate.protocol import ErrorCode
from tests.api.support import nothing_changes
from tests.api.test_error_codes import BrokenStore
from tests.client.conftest import MakeSdk
from tests.client.support import Faults, Rewrite
from tests.conftest import MCH_ID, NOW_MS, Gateway

Scenario = Callable[[Gateway, MakeSdk], Awaitable[Any]]


def refund(**overrides: Any) -> dict[str, Any]:
    return {"pay_order_id": "ALI-1", "mch_refund_no": "R-1", "amount_cents": 100, **overrides}


async def param_error(gw: Gateway, make: MakeSdk) -> None:
    # The SDK refuses malformed fields itself, so the body is altered on the way.
    await make(lambda app: Rewrite(app, refundAmount="12.50")).refund(**refund())


async def sign_error(gw: Gateway, make: MakeSdk) -> None:
    await make(key="NOT-THE-KEY").refund(**refund())


async def mch_not_exist(gw: Gateway, make: MakeSdk) -> None:
    await make(mch_id="99999999").refund(**refund())


async def mch_disabled(gw: Gateway, make: MakeSdk) -> None:
    disabled = Merchant("30000003", Secret("OFFKEY789"), status=MerchantStatus.DISABLED)
    await gw.store.add_merchant(disabled, now=NOW_MS)
    await gw.store.add_operator(Operator("30000003", "dora"), now=NOW_MS)
    await make(mch_id="30000003", key="OFFKEY789", login_name="dora").refund(**refund())


async def login_name_invalid(gw: Gateway, make: MakeSdk) -> None:
    await make(login_name="viewer").refund(**refund())


async def system_error(gw: Gateway, make: MakeSdk) -> None:
    broken = GatewayApp(replace(gw.deps, store=BrokenStore(gw.store, "reserve")))
    await make(lambda _: httpx.ASGITransport(app=broken)).refund(**refund())


async def order_not_exist(gw: Gateway, make: MakeSdk) -> None:
    await make().refund(**refund(pay_order_id="NOPE-1"))


async def order_not_refundable(gw: Gateway, make: MakeSdk) -> None:
    closed = PayOrder(MCH_ID, "SHUT-1", "ALIPAY_QR", "CAD", 10_000, NOW_MS, OrderStatus.CLOSED)
    await gw.store.add_order(closed)
    await make().refund(**refund(pay_order_id="SHUT-1"))


async def channel_not_supported(gw: Gateway, make: MakeSdk) -> None:
    await make().refund(**refund(pay_order_id="CARD-1"))


async def currency_mismatch(gw: Gateway, make: MakeSdk) -> None:
    await make().refund(**refund(currency="USD"))


async def channel_mismatch(gw: Gateway, make: MakeSdk) -> None:
    await make().refund(**refund(channel_id="WX_NATIVE"))


async def refund_amount_exceeded(gw: Gateway, make: MakeSdk) -> None:
    await make().refund(**refund(amount_cents=None, amount=Decimal("100.01")))


async def refund_limit_exceeded(gw: Gateway, make: MakeSdk) -> None:
    sdk = make()
    await sdk.refund(**refund(pay_order_id="WX-1", mch_refund_no="R-0"))
    await sdk.refund(**refund(pay_order_id="WX-1"))  # WeChat Pay: one minute apart


async def mch_refund_no_conflict(gw: Gateway, make: MakeSdk) -> None:
    sdk = make()
    await sdk.refund(**refund())
    await sdk.refund(**refund(amount_cents=200))


async def channel_rejected(gw: Gateway, make: MakeSdk) -> None:
    await gw.add_order("ALI-NO", "ALIPAY_QR", 10_000, outcome=SandboxOutcome.FAIL)
    await make().refund(**refund(pay_order_id="ALI-NO"))


async def refund_not_exist(gw: Gateway, make: MakeSdk) -> None:
    await make().query(mch_refund_no="NEVER")


SCENARIOS: dict[str, Scenario] = {
    "PARAM_ERROR": param_error,
    "SIGN_ERROR": sign_error,
    "MCH_NOT_EXIST": mch_not_exist,
    "MCH_DISABLED": mch_disabled,
    "LOGIN_NAME_INVALID": login_name_invalid,
    "SYSTEMERROR": system_error,
    "ORDER_NOT_EXIST": order_not_exist,
    "ORDER_NOT_REFUNDABLE": order_not_refundable,
    "CHANNEL_NOT_SUPPORTED": channel_not_supported,
    "CURRENCY_MISMATCH": currency_mismatch,
    "CHANNEL_MISMATCH": channel_mismatch,
    "REFUND_AMOUNT_EXCEEDED": refund_amount_exceeded,
    "REFUND_LIMIT_EXCEEDED": refund_limit_exceeded,
    "MCH_REFUND_NO_CONFLICT": mch_refund_no_conflict,
    "CHANNEL_REJECTED": channel_rejected,
    "REFUND_NOT_EXIST": refund_not_exist,
}


def test_the_table_has_one_class_for_every_code_of_the_protocol() -> None:
    assert set(CODE_CLASSES) == {code.wire for code in ErrorCode}
    assert set(SCENARIOS) == set(CODE_CLASSES)


@pytest.mark.parametrize("code", sorted(SCENARIOS))
async def test_each_code_from_the_app_raises_its_class(
    gateway: Gateway, make: MakeSdk, code: str
) -> None:
    with pytest.raises(RefundGateError) as raised:
        await SCENARIOS[code](gateway, make)

    error = raised.value
    assert type(error) is CODE_CLASSES[code]
    assert error.err_code == code
    assert code in str(error)


@pytest.mark.parametrize(
    ("code", "placement"),
    [(code.wire, code.placement.value) for code in ErrorCode],
)
def test_protocol_failures_and_business_refusals_land_on_their_sides_of_the_tree(
    code: str, placement: str
) -> None:
    refusal = issubclass(CODE_CLASSES[code], RefundRefused)
    assert refusal == (placement == "resCode"), code


async def test_a_business_refusal_carries_err_code_and_its_description(make: MakeSdk) -> None:
    with pytest.raises(RefundRefused) as raised:
        await make().refund(**refund(amount_cents=10_001))

    error = raised.value
    assert error.err_code == "REFUND_AMOUNT_EXCEEDED"
    assert error.err_code_des
    assert error.err_code_des.startswith("refund amount exceeds")
    assert error.mch_refund_no == "R-1"
    assert error.refund is None


async def test_a_channel_refusal_carries_the_failed_refund(gateway: Gateway, make: MakeSdk) -> None:
    with pytest.raises(RefundRejected) as raised:
        await channel_rejected(gateway, make)

    rejected = raised.value.refund
    assert rejected is not None
    assert rejected.status is RefundStatus.FAILED
    assert rejected.refund_order_id == gateway.ledger.calls[0].refund_order_id
    assert raised.value.err_code_des
    assert raised.value.err_code_des.startswith("ACQ.")


async def test_a_conflict_is_a_business_refusal_and_changes_nothing(
    gateway: Gateway, make: MakeSdk
) -> None:
    sdk = make()
    await sdk.refund(**refund())

    with nothing_changes(gateway), pytest.raises(RefundNumberConflict) as raised:
        await sdk.refund(**refund(amount_cents=200))

    assert isinstance(raised.value, RefundRefused)


async def test_an_unknown_refund_is_not_found(make: MakeSdk) -> None:
    with pytest.raises(RefundNotFound) as raised:
        await make().query(refund_order_id="R9999999999")

    assert raised.value.err_code == "REFUND_NOT_EXIST"


async def test_a_system_error_is_retried_then_reported_as_safe_to_retry(
    gateway: Gateway, make: MakeSdk
) -> None:
    broken = GatewayApp(replace(gateway.deps, store=BrokenStore(gateway.store, "reserve")))
    faults = Faults()
    sdk = make(lambda _: faults(httpx.ASGITransport(app=broken)))

    with nothing_changes(gateway), pytest.raises(GatewayUnavailable) as raised:
        await sdk.refund(**refund())

    assert raised.value.retry_safe is True
    assert faults.forwarded == 3
    assert sdk.sleeps == [0.5, 1.0]


async def test_a_wrong_key_is_an_authentication_error_and_changes_nothing(
    gateway: Gateway, make: MakeSdk
) -> None:
    with nothing_changes(gateway), pytest.raises(AuthenticationError) as raised:
        await make(key="NOT-THE-KEY").refund(**refund())

    assert raised.value.ret_msg == "signature error"
    assert "NOT-THE-KEY" not in str(raised.value)


# -- refused before anything is sent ----------------------------------------------


@pytest.mark.parametrize(
    ("options", "error"),
    [
        pytest.param({"amount": 19.99}, AmountTypeError, id="float"),
        pytest.param({"amount_cents": 19.99}, AmountTypeError, id="float-cents"),
        pytest.param({"amount_cents": True}, AmountTypeError, id="bool-cents"),
        pytest.param({"amount": 20}, AmountTypeError, id="int-major-units"),
        pytest.param({"amount": "0.001"}, InvalidAmount, id="too-many-decimals"),
        pytest.param({"amount": "0"}, InvalidAmount, id="zero"),
        pytest.param({"amount": "-1.00"}, InvalidAmount, id="negative"),
        pytest.param({"amount_cents": 2**31}, InvalidAmount, id="too-large"),
        pytest.param({"amount": "1", "amount_cents": 100}, AmountTypeError, id="both"),
        pytest.param({}, AmountTypeError, id="neither"),
        pytest.param({"amount": "1", "currency": "cad"}, InvalidAmount, id="bad-currency"),
        pytest.param({"amount": "1", "client_ip": "localhost"}, InvalidRequest, id="client-ip"),
        pytest.param({"amount": "1", "mch_refund_no": "R 1"}, InvalidRequest, id="space-in-no"),
        pytest.param({"amount": "1", "mch_refund_no": "R" * 31}, InvalidRequest, id="long-no"),
        pytest.param({"amount": "1", "mch_refund_no": 1537224899}, InvalidRequest, id="int-no"),
        pytest.param({"amount": "1", "pay_order_id": "P" * 65}, InvalidRequest, id="long-order"),
        pytest.param(
            {"amount": "1", "notify_url": "https://shop.example/n?x=1"},
            InvalidRequest,
            id="notify-url-query",
        ),
    ],
)
async def test_a_bad_request_is_refused_before_anything_is_sent(
    make: MakeSdk, options: dict[str, Any], error: type[RefundGateError]
) -> None:
    faults = Faults()
    sdk = make(faults)
    arguments = {"pay_order_id": "ALI-1", "mch_refund_no": "R-1", **options}

    with pytest.raises(error) as raised:
        await sdk.refund(**arguments)

    assert faults.sent == 0
    assert isinstance(raised.value, InvalidRequest)
    assert raised.value.err_code is None


async def test_a_float_is_a_type_error_and_an_invalid_request(make: MakeSdk) -> None:
    with pytest.raises(TypeError) as raised:
        await make().refund(pay_order_id="ALI-1", mch_refund_no="R-1", amount=0.29)

    assert isinstance(raised.value, InvalidRequest)
    assert "Decimal('19.99')" in str(raised.value)


async def test_a_refund_without_an_operator_is_refused_before_sending(make: MakeSdk) -> None:
    faults = Faults()

    with pytest.raises(InvalidRequest, match="login_name"):
        await make(faults, login_name=None).refund(**refund())

    assert faults.sent == 0


async def test_a_query_needs_exactly_one_id(make: MakeSdk) -> None:
    sdk = make()
    with pytest.raises(InvalidRequest):
        await sdk.query()
    with pytest.raises(InvalidRequest):
        await sdk.query(mch_refund_no="R-1", refund_order_id="R0000000001")


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"base_url": "gateway.test"}, id="no-scheme"),
        pytest.param({"base_url": "ftp://gateway.test"}, id="ftp"),
        pytest.param({"base_url": "http://gateway.test/?a=1"}, id="query"),
        pytest.param({"mch_id": ""}, id="no-mch-id"),
        pytest.param({"mch_id": "1 2"}, id="space-in-mch-id"),
        pytest.param({"key": ""}, id="no-key"),
        pytest.param({"login_name": "x" * 33}, id="long-login"),
        pytest.param({"client_ip": "not-an-ip"}, id="client-ip"),
    ],
)
def test_unusable_settings_are_a_configuration_error(options: dict[str, Any]) -> None:
    settings = {"base_url": "http://gateway.test", "mch_id": MCH_ID, "key": "K" * 10, **options}

    with pytest.raises(ConfigurationError):
        RefundClient(**settings)
