"""Answers in the IOTPay v1 envelope (PROTOCOL.md, "Answers")."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refundgate.protocol import (
    Answer,
    ErrorCode,
    Placement,
    business_answer,
    encode,
    failure_answer,
    verify,
)

KEY = "TESTKEY123"
RET_CODES = [code for code in ErrorCode if code.placement is Placement.RET]
RES_CODES = [code for code in ErrorCode if code.placement is Placement.RES]
ECHO = {"mchId": "10000576", "mchRefundNo": "R20240101000001", "payOrderId": "U001"}


def signed_part(answer: Answer) -> Answer:
    """An answer's fields but its sign: what a merchant verifies."""
    return {name: value for name, value in answer.items() if name != "sign"}


# Protocol-level failures


def test_a_failure_answer_is_fail_with_message_and_code() -> None:
    assert failure_answer(ErrorCode.SIGN_ERROR) == {
        "retCode": "FAIL",
        "retMsg": "signature error",
        "errCode": "SIGN_ERROR",
    }


def test_a_failure_answer_carries_the_given_message() -> None:
    answer = failure_answer(ErrorCode.PARAM_ERROR, "request params[mchId] is required")

    assert answer["retMsg"] == "request params[mchId] is required"


@pytest.mark.parametrize("code", RET_CODES, ids=[code.wire for code in RET_CODES])
def test_a_failure_answer_is_never_signed(code: ErrorCode) -> None:
    assert "sign" not in failure_answer(code)


@pytest.mark.parametrize("code", RES_CODES, ids=[code.wire for code in RES_CODES])
def test_a_business_refusal_cannot_be_a_failure_answer(code: ErrorCode) -> None:
    with pytest.raises(ValueError, match=code.wire):
        failure_answer(code)


# Business answers


def test_a_success_answer_is_signed_as_vector_v6() -> None:
    answer = business_answer({"refundOrderId": "R0020240101120000000001"}, key=KEY)

    assert answer == {
        "retCode": "SUCCESS",
        "retMsg": "",
        "resCode": "SUCCESS",
        "refundOrderId": "R0020240101120000000001",
        "sign": "7E35440D5AF550BA6573343AD00BBFE5",
    }


def test_a_refusal_answer_says_why() -> None:
    answer = business_answer(ECHO, key=KEY, refusal=ErrorCode.ORDER_NOT_EXIST)

    assert {name: answer[name] for name in ("retCode", "resCode", "errCode", "errCodeDes")} == {
        "retCode": "SUCCESS",
        "resCode": "FAIL",
        "errCode": "ORDER_NOT_EXIST",
        "errCodeDes": "pay order does not exist",
    }


def test_a_refusal_answer_carries_the_given_detail() -> None:
    answer = business_answer(
        ECHO, key=KEY, refusal=ErrorCode.CHANNEL_REJECTED, refusal_detail="NOTENOUGH: no balance"
    )

    assert answer["errCodeDes"] == "NOTENOUGH: no balance"


@pytest.mark.parametrize(
    "refusal", [None, *RES_CODES], ids=["success", *(c.wire for c in RES_CODES)]
)
def test_a_business_answer_verifies_with_the_key(refusal: ErrorCode | None) -> None:
    answer = business_answer(ECHO, key=KEY, refusal=refusal)

    assert verify(signed_part(answer), str(answer["sign"]), [KEY])


def test_a_business_answer_does_not_verify_with_another_key() -> None:
    answer = business_answer(ECHO, key=KEY)

    assert not verify(signed_part(answer), str(answer["sign"]), ["OTHERKEY"])


def test_a_business_answer_echoes_its_fields() -> None:
    answer = business_answer({**ECHO, "status": 1}, key=KEY)

    assert {name: answer[name] for name in [*ECHO, "status"]} == {**ECHO, "status": 1}


def test_a_none_field_is_left_out_of_the_answer() -> None:
    answer = business_answer({**ECHO, "channelOrderNo": None}, key=KEY)

    assert "channelOrderNo" not in answer


def test_a_number_is_signed_as_its_digits() -> None:
    as_number = business_answer({"refundAmount": 1999, "status": 2}, key=KEY)
    as_text = business_answer({"refundAmount": "1999", "status": "2"}, key=KEY)

    assert as_number["sign"] == as_text["sign"]


@pytest.mark.parametrize("code", RET_CODES, ids=[code.wire for code in RET_CODES])
def test_a_protocol_failure_cannot_be_a_business_refusal(code: ErrorCode) -> None:
    with pytest.raises(ValueError, match=code.wire):
        business_answer(ECHO, key=KEY, refusal=code)


# Encoding


def test_encode_gives_compact_json() -> None:
    answer = business_answer({"refundOrderId": "R0020240101120000000001"}, key=KEY)

    assert encode(answer) == (
        b'{"retCode":"SUCCESS","retMsg":"","resCode":"SUCCESS",'
        b'"refundOrderId":"R0020240101120000000001","sign":"7E35440D5AF550BA6573343AD00BBFE5"}'
    )


def test_encode_writes_non_ascii_as_utf8() -> None:
    answer = failure_answer(ErrorCode.PARAM_ERROR, "request params[设备] is malformed")

    assert (
        encode(answer)
        == '{"retCode":"FAIL","retMsg":"request params[设备] is malformed",'.encode()
        + b'"errCode":"PARAM_ERROR"}'
    )


def test_encode_writes_whole_numbers_as_json_numbers() -> None:
    assert encode({"status": 2, "refundAmount": 1999}) == b'{"status":2,"refundAmount":1999}'


def test_an_encoded_answer_decodes_to_itself() -> None:
    answer = business_answer({**ECHO, "status": 2, "device": "收银"}, key=KEY)

    assert json.loads(encode(answer)) == answer


ANSWER_VALUES = st.one_of(
    st.none(), st.integers(-(2**63), 2**63 - 1), st.text(st.characters(codec="utf-8"), max_size=20)
)


@settings(max_examples=300)
@given(answer=st.dictionaries(st.text(st.characters(codec="utf-8"), max_size=10), ANSWER_VALUES))
def test_an_answer_encodes_as_compact_utf8_json_of_itself(answer: Answer) -> None:
    # Byte for byte what the standard library writes: escapes, order, spacing.
    standard = json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert encode(answer) == standard
    assert json.loads(encode(answer)) == answer
