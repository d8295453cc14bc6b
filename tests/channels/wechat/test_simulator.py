"""The simulator checks what WeChat checks (channels.md §A.9), answering WeChat's way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from refundgate.channels.wechat import wire
from refundgate.channels.wechat.signing import SignType, sign, verify
from tests.channels.wechat.conftest import Rig

REFUND = "/secapi/pay/refund"
QUERY = "/pay/refundquery"
_nonces = iter(range(10**9))


def _fields(rig: Rig, **overrides: Any) -> dict[str, str]:
    merchant = rig.simulator.merchant
    fields = {
        "appid": merchant.appid,
        "mch_id": merchant.mch_id,
        "nonce_str": f"n{next(_nonces)}",
        "out_trade_no": "T1",
        "out_refund_no": "RF1",
        "total_fee": "1000",
        "refund_fee": "300",
    }
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


async def _post(
    rig: Rig, path: str, fields: dict[str, str], sign_type: SignType = SignType.MD5
) -> dict[str, str]:
    key = rig.simulator.merchant.api_key.reveal()
    signed = {**fields, "sign": sign(fields, key, sign_type)}
    response = await rig.control.post(path, content=wire.encode_xml(signed))
    assert response.status_code == 200
    answer = wire.decode_xml(response.content)
    if answer["return_code"] == "SUCCESS":
        assert verify(answer, key, sign_type), "every SUCCESS answer is signed"
    else:
        assert "sign" not in answer
    return answer


def _code(answer: dict[str, str]) -> str:
    if answer["return_code"] != "SUCCESS":
        return "FAIL:" + answer["return_msg"]
    return answer.get("err_code", answer["result_code"])


@pytest.fixture(params=list(SignType), ids=["md5", "hmac"])
def sign_type(request: pytest.FixtureRequest) -> SignType:
    value: SignType = request.param
    return value


async def test_a_valid_refund_is_accepted_and_signed_in_the_type_asked(
    rig: Rig, sign_type: SignType
) -> None:
    await rig.trade()

    answer = await _post(rig, REFUND, _fields(rig, sign_type=sign_type.value), sign_type)

    assert (answer["result_code"], answer["out_refund_no"], answer["refund_fee"]) == (
        "SUCCESS",
        "RF1",
        "300",
    )


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"appid": None}, "FAIL:缺少参数"),
        ({"nonce_str": None}, "FAIL:缺少参数"),
        ({"out_refund_no": None}, "FAIL:缺少参数"),
        ({"out_trade_no": None}, "FAIL:缺少参数"),
        ({"total_fee": None}, "FAIL:缺少参数"),
        ({"sign_type": "SHA1"}, "FAIL:参数格式校验错误"),
        ({"nonce_str": "n" * 33}, "FAIL:参数格式校验错误"),
        ({"total_fee": "10.00"}, "FAIL:invalid total_fee"),
        ({"refund_fee": "0"}, "FAIL:invalid refund_fee"),
        ({"refund_fee": "-5"}, "FAIL:invalid refund_fee"),
        ({"out_refund_no": "RF 1"}, "PARAM_ERROR"),
        ({"out_refund_no": "R" * 65}, "PARAM_ERROR"),
        ({"refund_fee_type": "usd"}, "PARAM_ERROR"),
        ({"refund_fee_type": "USD"}, "PARAM_ERROR"),
        ({"notify_url": "javascript:alert(1)"}, "PARAM_ERROR"),
        ({"mch_id": "1999999999"}, "MCHID_NOT_EXIST"),
        ({"appid": "wx0000000000000000"}, "APPID_MCHID_NOT_MATCH"),
        ({"out_trade_no": "NOPE"}, "ORDERNOTEXIST"),
        ({"out_trade_no": None, "transaction_id": "4200000000"}, "ORDERNOTEXIST"),
        ({"total_fee": "999"}, "INVALID_REQUEST"),
        ({"refund_fee": "1001"}, "ERROR"),
    ],
)
async def test_a_bad_refund_is_refused_and_records_nothing(
    rig: Rig, overrides: dict[str, Any], code: str
) -> None:
    await rig.trade()

    answer = await _post(rig, REFUND, _fields(rig, **overrides))

    assert _code(answer) == code
    assert await rig.refunds() == []


async def test_a_bad_signature_is_refused_unsigned(rig: Rig) -> None:
    await rig.trade()
    fields = _fields(rig)
    body = wire.encode_xml({**fields, "sign": "0" * 32})

    answer = wire.decode_xml((await rig.control.post(REFUND, content=body)).content)

    assert _code(answer) == "FAIL:签名错误"
    assert await rig.refunds() == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "post数据为空"),
        (b"\xff\xfe<xml/>", "编码格式错误"),
        (b"<xml><a>1</a>", "XML格式错误"),
        (b'<!DOCTYPE xml [<!ENTITY e "x">]><xml><a>&e;</a></xml>', "XML格式错误"),
        (b"<xml><a><b>1</b></a></xml>", "XML格式错误"),
    ],
)
async def test_what_is_not_a_request_is_answered_fail(rig: Rig, body: bytes, message: str) -> None:
    response = await rig.control.post(REFUND, content=body)

    assert response.status_code == 200
    assert wire.decode_xml(response.content) == {"return_code": "FAIL", "return_msg": message}


async def test_a_replayed_message_is_refused(rig: Rig) -> None:
    await rig.trade()
    key = rig.simulator.merchant.api_key.reveal()
    fields = _fields(rig)
    body = wire.encode_xml({**fields, "sign": sign(fields, key)})
    await rig.control.post(REFUND, content=body)

    answer = wire.decode_xml((await rig.control.post(REFUND, content=body)).content)

    assert _code(answer) == "FAIL:nonce_str重复"
    assert [r["requests"] for r in await rig.refunds()] == [1]


async def test_the_same_refund_number_with_the_same_amounts_is_the_same_refund(rig: Rig) -> None:
    await rig.trade(amount=300)
    first = await _post(rig, REFUND, _fields(rig, total_fee="300"))

    again = await _post(rig, REFUND, _fields(rig, total_fee="300"))

    assert again["refund_id"] == first["refund_id"]
    assert [(r["amount"], r["requests"]) for r in await rig.refunds()] == [(300, 2)]


async def test_the_same_refund_number_with_another_amount_is_invalid(rig: Rig) -> None:
    await rig.trade()
    await _post(rig, REFUND, _fields(rig))

    answer = await _post(rig, REFUND, _fields(rig, refund_fee="200"))

    assert _code(answer) == "INVALID_REQUEST"
    assert [r["amount"] for r in await rig.refunds()] == [300]


async def test_refunds_never_exceed_the_trade(rig: Rig) -> None:
    await rig.trade()
    codes = [
        _code(await _post(rig, REFUND, _fields(rig, out_refund_no=f"RF{i}", refund_fee="400")))
        for i in range(3)
    ]

    assert codes == ["SUCCESS", "SUCCESS", "ERROR"]
    assert sum(int(str(r["amount"])) for r in await rig.refunds()) == 800


async def test_a_closed_refund_gives_its_amount_back(rig: Rig) -> None:
    await rig.trade()
    await rig.fault("settle_failed")
    await _post(rig, REFUND, _fields(rig, refund_fee="1000"))
    await rig.simulator.sim.settle()

    answer = await _post(rig, REFUND, _fields(rig, out_refund_no="RF2", refund_fee="1000"))

    assert _code(answer) == "SUCCESS"


async def test_fifty_refunds_is_the_most(rig: Rig) -> None:
    await rig.trade(amount=100)
    for i in range(50):
        answer = await _post(rig, REFUND, _fields(rig, out_refund_no=f"P{i}", total_fee="100",
                                                  refund_fee="1"))  # fmt: skip
        assert _code(answer) == "SUCCESS"

    answer = await _post(rig, REFUND, _fields(rig, out_refund_no="P50", total_fee="100",
                                              refund_fee="1"))  # fmt: skip

    assert _code(answer) == "ERROR"


async def test_a_trade_older_than_a_year_is_overdue(rig: Rig) -> None:
    paid_at = (datetime.now(UTC) - timedelta(days=366)).isoformat()
    await rig.trade(paid_at=paid_at)

    answer = await _post(rig, REFUND, _fields(rig))

    assert _code(answer) == "TRADE_OVERDUE"


async def test_the_refund_call_can_demand_a_client_certificate(rig: Rig) -> None:
    await rig.trade()
    rig.simulator.require_client_cert = True

    refused = await _post(rig, REFUND, _fields(rig))

    assert _code(refused) == "FAIL:证书错误"
    assert await rig.refunds() == []


async def test_the_query_needs_no_certificate_and_lists_refunds_by_trade(rig: Rig) -> None:
    trade_no = await rig.trade()
    for i in range(12):
        await _post(rig, REFUND, _fields(rig, out_refund_no=f"Q{i}", refund_fee="10"))
    rig.simulator.require_client_cert = True
    await rig.simulator.sim.settle()

    first = await _post(rig, QUERY, _fields(rig, out_refund_no=None, total_fee=None,
                                            refund_fee=None, out_trade_no=None,
                                            transaction_id=trade_no))  # fmt: skip
    second = await _post(rig, QUERY, _fields(rig, out_refund_no=None, total_fee=None,
                                             refund_fee=None, offset="10"))  # fmt: skip

    assert (first["total_refund_count"], first["refund_count"]) == ("12", "10")
    assert (first["out_refund_no_0"], first["refund_status_0"]) == ("Q0", "SUCCESS")
    assert first["refund_recv_accout_0"]
    assert "refund_success_time_0" in first
    assert (second["refund_count"], second["out_refund_no_10"]) == ("2", "Q10")


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"out_refund_no": "NOPE"}, "REFUNDNOTEXIST"),
        ({"out_refund_no": None, "refund_id": "5000"}, "REFUNDNOTEXIST"),
        ({"out_refund_no": None, "transaction_id": "4200"}, "INVALID_TRANSACTIONID"),
        ({"out_refund_no": None, "out_trade_no": "T1", "offset": "5"}, "PARAM_ERROR"),
        ({"out_refund_no": None}, "FAIL:缺少参数"),
    ],
)
async def test_a_query_for_nothing_says_so(rig: Rig, overrides: dict[str, Any], code: str) -> None:
    await rig.trade()
    await _post(rig, REFUND, _fields(rig))
    asked = {"total_fee": None, "refund_fee": None, "out_trade_no": None, **overrides}

    answer = await _post(rig, QUERY, _fields(rig, **asked))

    assert _code(answer) == code
