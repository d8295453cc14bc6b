"""XML in and out, the code table row by row, the refund status table."""

from __future__ import annotations

import pytest

from refundgate.channels.wechat import wire
from refundgate.channels.wechat.wire import CodeClass, RefundStatusWord

D, U, R = CodeClass.DEFINITIVE, CodeClass.UNKNOWN, CodeClass.RETRY_LATER

#: channels.md §A.5, one row per code.
CODE_ROWS = [
    ("SYSTEMERROR", U),
    ("BIZERR_NEED_RETRY", U),
    ("INVALID_REQUEST", U),
    ("REFUND_FEE_MISMATCH", U),
    ("FREQUENCY_LIMITED", R),
    ("INVALID_REQ_TOO_MUCH", R),
    ("ORDER_NOT_READY", R),
    ("NOTENOUGH", D),
    ("TRADE_OVERDUE", D),
    ("USER_ACCOUNT_ABNORMAL", D),
    ("ERROR", D),
    ("ORDERNOTEXIST", D),
    ("INVALID_TRANSACTIONID", D),
    ("PARAM_ERROR", D),
    ("APPID_NOT_EXIST", D),
    ("MCHID_NOT_EXIST", D),
    ("APPID_MCHID_NOT_MATCH", D),
    ("REQUIRE_POST_METHOD", D),
    ("SIGNERROR", D),
    ("XML_FORMAT_ERROR", D),
    ("NOAUTH", D),
    ("CERT_ERROR", D),
    ("LACK_PARAMS", D),
    ("NOT_UTF8", D),
    ("POST_DATA_EMPTY", D),
]


@pytest.mark.parametrize(("code", "kind"), CODE_ROWS)
def test_each_code_has_its_class(code: str, kind: CodeClass) -> None:
    assert wire.classify(code) is kind


def test_the_table_has_exactly_these_rows() -> None:
    assert dict(CODE_ROWS) == dict(wire.REFUND_CODES)


@pytest.mark.parametrize("code", ["", "SUCCESS", "systemerror", "NEW_CODE_2027", "REFUNDNOTEXIST"])
def test_a_code_not_in_the_table_is_unknown(code: str) -> None:
    assert wire.classify(code) is CodeClass.UNKNOWN


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("SUCCESS", RefundStatusWord.SUCCEEDED),
        ("REFUNDCLOSE", RefundStatusWord.FAILED),
        ("PROCESSING", RefundStatusWord.PROCESSING),
        ("CHANGE", RefundStatusWord.ABNORMAL),
    ],
)
def test_refund_statuses_map_by_the_table(word: str, status: RefundStatusWord) -> None:
    assert wire.refund_status(word) is status


@pytest.mark.parametrize("word", ["FAIL", "success", "", "NOTSURE"])
def test_an_unknown_refund_status_raises(word: str) -> None:
    with pytest.raises(KeyError):
        wire.refund_status(word)


def test_encoding_writes_digits_bare_and_text_in_cdata() -> None:
    body = wire.encode_xml({"total_fee": "100", "out_refund_no": "R-1", "desc": "退款"})

    assert (
        body
        == (
            "<xml><total_fee>100</total_fee><out_refund_no><![CDATA[R-1]]></out_refund_no>"
            "<desc><![CDATA[退款]]></desc></xml>"
        ).encode()
    )


@pytest.mark.parametrize("value", ["plain", "a]]>b", "<&>", " spaced ", "", "]]>]]>"])
def test_values_survive_a_round_trip(value: str) -> None:
    assert wire.decode_xml(wire.encode_xml({"v": value})) == {"v": value}


def test_plain_and_cdata_text_read_the_same() -> None:
    body = b"<xml>\n  <a>1</a>\n  <b><![CDATA[two]]></b>\n</xml>"

    assert wire.decode_xml(body) == {"a": "1", "b": "two"}


def test_a_bad_field_name_is_not_written() -> None:
    with pytest.raises(ValueError, match="field name"):
        wire.encode_xml({"a b": "1"})


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml",
        b"<xml><a>1</a>",
        b"<root><a>1</a></root>",
        b"<xml><a><b>1</b></a></xml>",
        b"<xml><a>1</a><a>2</a></xml>",
        b"<xml>text<a>1</a></xml>",
        b'<!DOCTYPE xml [<!ENTITY e "x">]><xml><a>&e;</a></xml>',
        b'<!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><a>&e;</a></xml>',
        b"<xml>" + b"<a>1</a>" * 10_000 + b"</xml>",
    ],
)
def test_what_is_not_flat_wechat_xml_is_refused(body: bytes) -> None:
    with pytest.raises(wire.MalformedXml):
        wire.decode_xml(body)


def test_the_ack_is_what_wechat_expects() -> None:
    assert wire.decode_xml(wire.ACK) == {"return_code": "SUCCESS", "return_msg": "OK"}


def test_a_query_answer_is_searched_by_refund_number() -> None:
    answer = {"out_refund_no_0": "A", "out_refund_no_1": "B", "refund_status_1": "SUCCESS"}

    assert wire.refund_index(answer, "B") == "1"
    assert wire.refund_index(answer, "C") is None
