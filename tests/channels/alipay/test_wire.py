"""Alipay's wire: amounts in yuan, the request's parameters, the raw answer node."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refundgate.channels.alipay import wire

# ---------------------------------------------------------------- amounts


def _by_hand(fen: int) -> str:
    """Integer arithmetic only, as a second opinion on the Decimal conversion."""
    return f"{fen // 100}.{fen % 100:02d}"


def test_every_amount_from_one_fen_to_a_hundred_yuan_converts_exactly() -> None:
    for fen in range(1, 10_001):
        text = wire.major_units(fen)
        assert text == _by_hand(fen)
        assert wire.minor_units(text) == fen


@pytest.mark.parametrize(
    ("fen", "yuan"),
    [
        (1, "0.01"),
        (10, "0.10"),
        (100, "1.00"),
        (1230, "12.30"),
        (99_999_999_99, "99999999.99"),
        (10**18 + 1, "10000000000000000.01"),
    ],
)
def test_edge_amounts(fen: int, yuan: str) -> None:
    assert wire.major_units(fen) == yuan
    assert wire.minor_units(yuan) == fen


@given(st.integers(min_value=1, max_value=10**30))
def test_any_amount_round_trips(fen: int) -> None:
    assert wire.minor_units(wire.major_units(fen)) == fen
    assert wire.major_units(fen) == _by_hand(fen)


@pytest.mark.parametrize("bad", [0, -1, -1230])
def test_a_refund_amount_is_positive(bad: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        wire.major_units(bad)


@pytest.mark.parametrize("bad", [12.3, True, "1230", None])
def test_only_whole_minor_units_are_converted(bad: object) -> None:
    with pytest.raises(TypeError):
        wire.major_units(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "fen"), [("0.01", 1), ("12.3", 1230), ("7", 700), ("0", 0)])
def test_yuan_strings_read(text: str, fen: int) -> None:
    assert wire.minor_units(text) == fen


@pytest.mark.parametrize(
    "bad",
    ["1.234", "01.00", "1e2", "-1", " 1", "1.", ".5", "\uff11", "1,00", "NaN", "", "1.0 ", "+1"],
)
def test_malformed_yuan_strings_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="yuan"):
        wire.minor_units(bad)


# ---------------------------------------------------------------- requests


def test_the_timestamp_is_beijing_time() -> None:
    assert wire.beijing_timestamp(1_767_268_800_000) == "2026-01-01 20:00:00"
    assert wire.beijing_timestamp(1_767_268_799_999) == "2026-01-01 19:59:59"
    assert wire.beijing_timestamp(0) == "1970-01-01 08:00:00"


def test_the_common_parameters() -> None:
    params = wire.request_params(
        app_id="A", method=wire.METHOD_REFUND, timestamp="2026-01-01 20:00:00", biz_content="{}"
    )

    assert params == {
        "app_id": "A",
        "method": "alipay.trade.refund",
        "format": "JSON",
        "charset": "utf-8",
        "sign_type": "RSA2",
        "timestamp": "2026-01-01 20:00:00",
        "version": "1.0",
        "biz_content": "{}",
    }


def test_refund_biz_content_names_the_trade_by_our_number_when_alipays_is_unknown() -> None:
    trade = wire.TradeRef(out_trade_no="P1")

    biz = json.loads(wire.refund_biz_content(trade, refund_amount="12.30", out_request_no="R1"))

    assert biz == {"out_trade_no": "P1", "refund_amount": "12.30", "out_request_no": "R1"}


def test_biz_content_prefers_alipays_trade_number() -> None:
    trade = wire.TradeRef(out_trade_no="P1", trade_no="2026010122001")

    biz = json.loads(wire.query_biz_content(trade, out_request_no="R1"))

    assert biz == {"trade_no": "2026010122001", "out_request_no": "R1"}


# ---------------------------------------------------------------- answers

REFUND = wire.METHOD_REFUND


@pytest.mark.parametrize(
    "node",
    [
        '{"code":"10000","msg":"Success"}',
        '{ "code" : "10000",\n  "msg" : "成功" }',
        '{"code":"10000","msg":"a } and a { in \\"quotes\\"","list":[{"a":"}"}]}',
        '{"code":"10000","msg":"\\u6210\\u529f","n":{"deep":{"er":1}}}',
    ],
)
def test_the_node_text_is_exactly_as_received(node: str) -> None:
    body = f'{{ "alipay_trade_refund_response" :  {node} ,\r\n "sign" : "c2ln" }}'

    reply = wire.parse_reply(body, REFUND)

    assert reply.node_text == node
    assert reply.node_name == "alipay_trade_refund_response"
    assert reply.sign == "c2ln"
    assert reply.fields == json.loads(node)


def test_the_node_may_follow_the_sign_and_other_members() -> None:
    body = '{"sign":"c2ln","alipay_cert_sn":"x","alipay_trade_refund_response":{"code":"10000"}}'

    reply = wire.parse_reply(body, REFUND)

    assert (reply.node_text, reply.sign) == ('{"code":"10000"}', "c2ln")


def test_an_error_response_is_read_and_an_absent_sign_is_none() -> None:
    reply = wire.parse_reply('{"error_response":{"code":"40002"}}', REFUND)

    assert (reply.node_name, reply.sign) == ("error_response", None)


def test_the_node_of_another_method_is_not_ours() -> None:
    body = '{"alipay_trade_query_response":{"code":"10000"},"sign":"c2ln"}'

    with pytest.raises(wire.MalformedReply):
        wire.parse_reply(body, REFUND)


@pytest.mark.parametrize(
    "body",
    [
        "",
        "garbage",
        "<html>502 Bad Gateway</html>",
        "[]",
        '{"alipay_trade_refund_response":{"code":"10000"}',
        '{"alipay_trade_refund_response":{"code":"10000"}} trailing',
        '{"alipay_trade_refund_response":{"code":"10000"},}',
        '{"alipay_trade_refund_response":"10000","sign":"c2ln"}',
        '{"alipay_trade_refund_response":{"code":"10000"},"sign":7}',
        '{"alipay_trade_refund_response":{"code":NaN},"sign":"c2ln"}',
        '{"alipay_trade_refund_response":{"code":"10000"},'
        '"alipay_trade_refund_response":{"code":"40004"},"sign":"c2ln"}',
        '{"alipay_trade_refund_response":{"code":"10000"},"error_response":{},"sign":"c2ln"}',
        '{"alipay_trade_refund_response":{"code":"10000"},"sign":"a","sign":"b"}',
        "{'alipay_trade_refund_response':{}}",
    ],
)
def test_malformed_answers_are_refused(body: str) -> None:
    with pytest.raises(wire.MalformedReply):
        wire.parse_reply(body, REFUND)


def test_response_node_names() -> None:
    assert wire.response_node_name(wire.METHOD_REFUND) == "alipay_trade_refund_response"
    assert (
        wire.response_node_name(wire.METHOD_QUERY) == "alipay_trade_fastpay_refund_query_response"
    )
