"""Signatures and notify decryption against the published vectors (channels.md §A.4, §A.7)."""

from __future__ import annotations

import base64

import pytest

from refundgate.channels.wechat.signing import (
    SignType,
    UndecryptableNotify,
    decrypt_req_info,
    sign,
    string_to_sign,
    verify,
)

KEY = "192006250b4c09247ec02edce69f6a2d"
REQUEST = {
    "appid": "wxd930ea5d5a258f4f",
    "body": "test",
    "device_info": "1000",
    "mch_id": "10000100",
    "nonce_str": "ibuaiVcKdpRxkhJA",
}
ANSWER = {
    "appid": "wx2421b1c4370ec43b",
    "mch_id": "10000100",
    "nonce_str": "IITRi8Iabbblz1Jc",
    "prepay_id": "wx201411101639507cbf6ffd8b0779950874",
    "result_code": "SUCCESS",
    "return_code": "SUCCESS",
    "return_msg": "OK",
    "trade_type": "APP",
}
SHORT_REQ_INFO = (
    "WBzGpzQuNpcFxIlFjUUD9BZv+lpBMzd2SHiKCkwfALWid5G8ZvfOussfMIHLbKJmcnxPKdb1ZJEqTAp8ysQv+xa1fj+E"
    "orgndx3fNxf3KAYa3LPgsjvZgxaeYyrhV05Kbjkj6ywg27cEyTTaPZFYNg=="
)


def test_md5_matches_the_official_vector() -> None:
    assert sign(REQUEST, KEY) == "9A0A8659F005D6984697E2CA0A9CF3B7"


def test_hmac_sha256_matches_the_official_vector() -> None:
    expected = "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
    assert sign(REQUEST, KEY, SignType.HMAC_SHA256) == expected


def test_an_answer_vector_verifies() -> None:
    assert verify({**ANSWER, "sign": "E515C9BE3D3129764915407267CA0243"}, KEY)


def test_sign_and_empty_values_are_left_out_but_zero_is_kept() -> None:
    fields = {"b": "2", "a": "", "sign": "X", "c": "0"}

    assert string_to_sign(fields) == "b=2&c=0"


@pytest.mark.parametrize("sign_type", list(SignType))
@pytest.mark.parametrize("field", sorted(REQUEST))
def test_changing_one_byte_of_any_field_breaks_the_signature(
    sign_type: SignType, field: str
) -> None:
    signed = {**REQUEST, "sign": sign(REQUEST, KEY, sign_type)}
    value = signed[field]
    tampered = {**signed, field: value[:-1] + chr(ord(value[-1]) ^ 1)}

    assert verify(signed, KEY, sign_type)
    assert not verify(tampered, KEY, sign_type)


def test_a_wrong_key_or_sign_type_or_missing_sign_does_not_verify() -> None:
    signed = {**REQUEST, "sign": sign(REQUEST, KEY)}

    assert not verify(signed, KEY[:-1] + "e")
    assert not verify(signed, KEY, SignType.HMAC_SHA256)
    assert not verify(REQUEST, KEY)


def test_a_lower_case_signature_is_not_accepted() -> None:
    assert not verify({**REQUEST, "sign": sign(REQUEST, KEY).lower()}, KEY)


def test_the_short_notify_vector_decrypts() -> None:
    plain = decrypt_req_info(SHORT_REQ_INFO, KEY)

    assert plain == (
        b"<root><out_refund_no><![CDATA[R1]]></out_refund_no>"
        b"<refund_status><![CDATA[SUCCESS]]></refund_status></root>"
    )


@pytest.mark.parametrize(
    "req_info",
    [
        "",
        "not base64!",
        base64.b64encode(b"short").decode(),
        SHORT_REQ_INFO[:-4] + "AAA=",
    ],
)
def test_what_does_not_decrypt_is_refused(req_info: str) -> None:
    with pytest.raises(UndecryptableNotify):
        decrypt_req_info(req_info, KEY)


def test_another_key_does_not_open_the_notify() -> None:
    # With this wrong key the padding check fails (checked: it is deterministic).
    with pytest.raises(UndecryptableNotify):
        decrypt_req_info(SHORT_REQ_INFO, "0" * 32)
