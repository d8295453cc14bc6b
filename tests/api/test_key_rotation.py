"""Key rotation (PROTOCOL.md, "Signing"): both keys verify until the previous
one expires; answers are always signed with the current key."""

from __future__ import annotations

from refundgate.domain.merchant import Merchant, Operator
from refundgate.domain.secret import Secret
from refundgate.protocol import verify
from tests.api.support import assert_accepted, assert_protocol_failure, nothing_changes
from tests.conftest import DAY_MS, NOW_MS, Gateway

ROTATING = "40000004"
NEW_KEY = "NEWKEY2026"
OLD_KEY = "OLDKEY2025"
EXPIRES_AT = NOW_MS + DAY_MS


async def rotating_merchant(gateway: Gateway, *, expires_at: int | None = EXPIRES_AT) -> None:
    merchant = Merchant(
        ROTATING,
        Secret(NEW_KEY),
        previous_key=Secret(OLD_KEY),
        previous_key_expires_at=expires_at,
    )
    await gateway.store.add_merchant(merchant, now=NOW_MS)
    await gateway.store.add_operator(Operator(ROTATING, "rita"), now=NOW_MS)
    await gateway.add_order("ROT-1", "ALIPAY_QR", 10_000, mch_id=ROTATING)


async def refund_signed_with(gateway: Gateway, key: str, number: str) -> dict[str, object]:
    return await gateway.refund(
        key=key, mchId=ROTATING, loginName="rita", payOrderId="ROT-1", mchRefundNo=number
    )


async def test_during_a_rotation_both_keys_sign_a_request(gateway: Gateway) -> None:
    await rotating_merchant(gateway)

    with_new = await refund_signed_with(gateway, NEW_KEY, "R-1")
    with_old = await refund_signed_with(gateway, OLD_KEY, "R-2")

    assert_accepted(with_new, status=2, key=NEW_KEY)
    assert_accepted(with_old, status=2, key=NEW_KEY)


async def test_answers_are_signed_with_the_current_key_only(gateway: Gateway) -> None:
    await rotating_merchant(gateway)

    answer = await refund_signed_with(gateway, OLD_KEY, "R-1")

    assert verify(answer, str(answer["sign"]), [NEW_KEY])
    assert not verify(answer, str(answer["sign"]), [OLD_KEY])


async def test_the_previous_key_still_signs_until_its_expiry(gateway: Gateway) -> None:
    await rotating_merchant(gateway)
    gateway.clock.advance(DAY_MS - 1)

    answer = await refund_signed_with(gateway, OLD_KEY, "R-1")

    assert_accepted(answer, status=2, key=NEW_KEY)


async def test_after_its_expiry_the_previous_key_is_a_sign_error(gateway: Gateway) -> None:
    await rotating_merchant(gateway)
    gateway.clock.advance(DAY_MS)

    with nothing_changes(gateway):
        answer = await refund_signed_with(gateway, OLD_KEY, "R-1")

    assert_protocol_failure(answer, "SIGN_ERROR")


async def test_after_its_expiry_the_current_key_still_signs(gateway: Gateway) -> None:
    await rotating_merchant(gateway)
    gateway.clock.advance(2 * DAY_MS)

    answer = await refund_signed_with(gateway, NEW_KEY, "R-1")

    assert_accepted(answer, status=2, key=NEW_KEY)


async def test_a_previous_key_that_already_expired_never_signs(gateway: Gateway) -> None:
    await rotating_merchant(gateway, expires_at=NOW_MS - 1)

    with nothing_changes(gateway):
        answer = await refund_signed_with(gateway, OLD_KEY, "R-1")

    assert_protocol_failure(answer, "SIGN_ERROR")


async def test_a_query_signed_with_the_previous_key_is_answered_with_the_current(
    gateway: Gateway,
) -> None:
    await rotating_merchant(gateway)
    await refund_signed_with(gateway, NEW_KEY, "R-1")

    answer = await gateway.query(key=OLD_KEY, mchId=ROTATING, mchRefundNo="R-1")

    assert_accepted(answer, status=2, key=NEW_KEY)


async def test_a_refusal_during_a_rotation_is_signed_with_the_current_key(
    gateway: Gateway,
) -> None:
    await rotating_merchant(gateway)

    answer = await gateway.refund(
        key=OLD_KEY, mchId=ROTATING, loginName="rita", payOrderId="ROT-1", refundAmount="10001"
    )

    assert answer["errCode"] == "REFUND_AMOUNT_EXCEEDED"
    assert verify(answer, answer["sign"], [NEW_KEY])
    assert not verify(answer, answer["sign"], [OLD_KEY])
