"""Request decoding (PROTOCOL.md, "Transport"): every accepted form, every refusal."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from urllib.parse import quote, unquote_to_bytes, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refundgate.protocol import (
    BODY_LIMIT,
    ErrorCode,
    Fields,
    ProtocolError,
    decode_request,
    decoding,
    verify,
)

KEY = "TESTKEY123"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

#: Vector V4 of PROTOCOL.md, with its sign.
V4 = {
    "mchId": "10000576",
    "mchRefundNo": "R20240101000001",
    "sign": "92A1FD847C184A20FADA5D92C5059D9E",
}


def params_form(fields: Mapping[str, object]) -> bytes:
    """The canonical encoding: one URL-encoded form field ``params`` holding JSON."""
    return urlencode({"params": json.dumps(fields)}).encode()


def refusal(body: bytes, content_type: str | None, query: bytes = b"") -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        decode_request(body, content_type, query)
    return caught.value


# Accepted forms


def test_params_in_a_url_encoded_form_body() -> None:
    assert decode_request(params_form(V4), FORM) == V4


def test_params_in_the_query_string_with_an_empty_body() -> None:
    assert decode_request(b"", FORM, params_form(V4)) == V4


def test_params_in_the_query_string_without_a_content_type() -> None:
    assert decode_request(b"", None, params_form(V4)) == V4


def test_a_json_body() -> None:
    assert decode_request(json.dumps(V4).encode(), "application/json; charset=utf-8") == V4


def test_a_body_that_opens_a_json_object_is_json_when_no_content_type_is_given() -> None:
    assert decode_request(b"  " + json.dumps(V4).encode(), None) == V4


@pytest.mark.parametrize("content_type", [FORM, "text/plain"])
def test_a_json_body_under_another_label_is_still_json(content_type: str) -> None:
    # PHP's curl labels a posted JSON string as a form unless told otherwise.
    assert decode_request(json.dumps(V4).encode(), content_type) == V4


def test_plain_form_fields_without_params() -> None:
    assert decode_request(urlencode(V4).encode(), FORM) == V4


def test_a_php_sample_body_is_read_without_url_encoding_and_verifies() -> None:
    # 'params=' . json_encode($arr), as the official PHP sample builds it
    # (vector V2, mchRefundNo an integer as $_SERVER['REQUEST_TIME'] gives it).
    body = (
        b'params={"channelId":"WX_MICROPAY","clientIp":"24.80.45.254","device":"",'
        b'"loginName":"vincent","mchId":"10000576","mchRefundNo":1537224899791,'
        b'"payOrderId":"U00180918065500913991007022","refundAmount":"1",'
        b'"sign":"4033AF839E77532E84E2514E72A2867C"}'
    )

    fields = decode_request(body, FORM)

    assert verify(fields, fields["sign"] or "", [KEY])


def test_a_php_sample_body_keeps_escaped_slashes_as_json_syntax() -> None:
    body = b'params={"notifyUrl":"https:\\/\\/shop.example\\/n"}'

    assert decode_request(body, FORM) == {"notifyUrl": "https://shop.example/n"}


def test_a_plus_sent_without_url_encoding_arrives_as_a_space() -> None:
    # Standard form decoding, which is why the canonical form URL-encodes params.
    assert decode_request(b'params={"device":"a+b"}', FORM) == {"device": "a b"}


def test_a_url_encoded_plus_arrives_as_a_plus() -> None:
    body = b"params=" + quote('{"device":"a+b"}', safe="").encode()

    assert decode_request(body, FORM) == {"device": "a+b"}


def test_non_ascii_text_is_decoded_as_utf8() -> None:
    body = json.dumps({"device": "收银 é"}, ensure_ascii=False).encode()

    assert decode_request(body, JSON) == {"device": "收银 é"}


@pytest.mark.parametrize(
    ("number", "text"),
    [("1999", "1999"), ("19.99", "19.99"), ("1.50", "1.50"), ("1e3", "1e3"), ("-1", "-1")],
)
def test_a_json_number_is_kept_as_the_text_received(number: str, text: str) -> None:
    body = b'{"refundAmount":' + number.encode() + b"}"

    assert decode_request(body, JSON) == {"refundAmount": text}


def test_json_null_decodes_to_none() -> None:
    assert decode_request(b'{"device":null}', JSON) == {"device": None}


def test_a_body_of_exactly_the_limit_is_accepted() -> None:
    body = b"device=" + b"x" * (BODY_LIMIT - len(b"device="))

    assert decode_request(body, FORM) == {"device": "x" * (BODY_LIMIT - len(b"device="))}


# Refusals


REFUSED: dict[str, tuple[bytes, str | None, bytes]] = {
    "non-UTF-8 form body": (b"mchId=\xff", FORM, b""),
    "non-UTF-8 JSON body": (b'{"mchId":"\xff"}', JSON, b""),
    "percent-encoded invalid UTF-8": (b"mchId=%FF", FORM, b""),
    "percent-encoded invalid UTF-8 in params": (b"params=%7B%22a%22%3A%22%FF%22%7D", FORM, b""),
    "percent-encoded invalid UTF-8 in the query": (b"", FORM, b"mchId=%C3%28"),
    "unpaired surrogate escape in a value": (b'{"mchId":"\\ud800"}', JSON, b""),
    "unpaired surrogate escape in a name": (b'{"\\udc00":"1"}', JSON, b""),
    "unpaired surrogate escape in a form body": (
        b"params=%7B%22a%22%3A%22%5Cud800%22%7D",
        FORM,
        b"",
    ),
    "boolean value": (b'{"refundAmount":true}', JSON, b""),
    "array value": (b'{"refundAmount":[1]}', JSON, b""),
    "object value": (b'{"refundAmount":{"cents":1}}', JSON, b""),
    "top-level array": (b'[{"mchId":"1"}]', JSON, b""),
    "top-level string": (b'"mchId"', JSON, b""),
    "top-level number": (b"1", JSON, b""),
    "top-level null": (b"null", JSON, b""),
    "NaN": (b'{"refundAmount":NaN}', JSON, b""),
    "Infinity": (b'{"refundAmount":Infinity}', JSON, b""),
    "-Infinity": (b'{"refundAmount":-Infinity}', JSON, b""),
    "duplicate JSON keys": (b'{"mchId":"1","mchId":"2"}', JSON, b""),
    "duplicate form fields": (b"mchId=1&mchId=2", FORM, b""),
    "invalid JSON": (b'{"mchId":', JSON, b""),
    "invalid JSON in params": (b"params=mchId", FORM, b""),
    "empty params": (b"params=", FORM, b""),
    "empty body and empty query": (b"", FORM, b""),
    "empty JSON body": (b"", JSON, b""),
    "body over the limit": (b"device=" + b"x" * BODY_LIMIT, FORM, b""),
    "query over the limit": (b"", FORM, b"device=" + b"x" * BODY_LIMIT),
    "params plus another field": (params_form(V4) + b"&device=pos", FORM, b""),
    "params twice": (params_form(V4) + b"&" + params_form(V4), FORM, b""),
}


@pytest.mark.parametrize(("body", "content_type", "query"), REFUSED.values(), ids=REFUSED.keys())
def test_a_malformed_request_is_a_param_error(
    body: bytes, content_type: str | None, query: bytes
) -> None:
    assert refusal(body, content_type, query).code is ErrorCode.PARAM_ERROR


def test_a_non_scalar_value_is_refused_by_name() -> None:
    error = refusal(b'{"refundAmount":true}', JSON)

    assert "refundAmount" in error.message


def test_a_nested_object_is_refused_by_the_field_that_holds_it() -> None:
    error = refusal(b'{"memo":{"refundAmount":{"cents":1}}}', JSON)

    assert "[memo]" in error.message


def test_a_duplicate_field_is_refused_by_name() -> None:
    error = refusal(b'{"mchId":"1","mchId":"2"}', JSON)

    assert "mchId" in error.message


# Properties

CONTENT_TYPES = st.one_of(
    st.none(),
    st.sampled_from(
        [FORM, JSON, f"{JSON}; charset=utf-8", "text/plain", "", ";;", "APPLICATION/JSON"]
    ),
    st.text(max_size=30),
)
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20))
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
BODIES = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(str.encode),
    st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=6).map(
        lambda fields: json.dumps(fields).encode()
    ),
    st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=6).map(params_form),
    st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=6).map(
        lambda fields: urlencode(fields).encode()
    ),
)
QUERIES = st.one_of(st.just(b""), st.binary(max_size=100), BODIES)


def is_field_set(decoded: object) -> bool:
    """A dict of text names to text or None, every piece encodable as UTF-8."""
    if not isinstance(decoded, dict):
        return False
    for name, value in decoded.items():
        if not isinstance(name, str) or not isinstance(value, str | None):
            return False
        name.encode("utf-8")
        if value is not None:
            value.encode("utf-8")
    return True


@settings(max_examples=400)
@given(body=BODIES, content_type=CONTENT_TYPES, query=QUERIES)
def test_any_input_decodes_to_a_field_set_or_is_a_param_error(
    body: bytes, content_type: str | None, query: bytes
) -> None:
    outcome: object
    try:
        outcome = decode_request(body, content_type, query)
    except ProtocolError as error:
        outcome = error.code

    assert outcome is ErrorCode.PARAM_ERROR or is_field_set(outcome)


TEXT_FIELDS = st.dictionaries(
    st.text(st.characters(codec="utf-8"), max_size=10),
    st.none() | st.text(st.characters(codec="utf-8"), max_size=10),
    max_size=6,
)


@settings(max_examples=200)
@given(fields=TEXT_FIELDS)
def test_any_field_set_survives_the_canonical_encoding(fields: Fields) -> None:
    assert decode_request(params_form(fields), FORM) == fields


@settings(max_examples=200)
@given(fields=TEXT_FIELDS)
def test_any_field_set_survives_a_json_body(fields: Fields) -> None:
    assert decode_request(json.dumps(fields).encode(), JSON) == fields


#: The pieces a ``params=`` value is made of, well formed or not.
PARAMS_PIECES = st.one_of(
    st.sampled_from(["%", "%2", "%7B", "%7D", "%22", "%3A", "%2C", "%5C", "%FF", "%C3%A9", "+"]),
    st.sampled_from(["{", "}", '"', ":", ",", "\\u00e9", "\\ud800", "a", "1", "=", "%zz"]),
)
PARAMS_VALUES = st.one_of(
    st.lists(PARAMS_PIECES, max_size=20).map("".join),
    TEXT_FIELDS.map(lambda fields: quote(json.dumps(fields), safe="")),
    TEXT_FIELDS.map(lambda fields: quote(json.dumps(fields, ensure_ascii=False))),
)


def _outcome(decode: Callable[[], object]) -> object:
    try:
        return decode()
    except ProtocolError as error:
        return error.message


@settings(max_examples=400)
@given(value=PARAMS_VALUES)
def test_a_params_only_body_decodes_as_the_general_form_decoding_would(value: str) -> None:
    # decode_request takes a shortcut for the canonical body; the general path
    # (parse_qsl) must agree with it on every value, accepted or refused.
    body = f"params={value}"
    general = _outcome(lambda: decoding._from_params(decoding._form(body)))
    assert _outcome(lambda: decode_request(body.encode(), FORM)) == general


#: Text made of what percent-decoding reads: escapes whole or cut short, hex
#: digits of both cases, backslashes (the fast way's own escape sign), any character.
PERCENT_TEXT = st.lists(
    st.one_of(
        st.sampled_from(["%", "%4", "%41", "%e9", "%E9", "%%", "%x1", "\\", "\\x41", "x", "+"]),
        st.text(max_size=3),
    ),
    max_size=30,
).map("".join)


@settings(max_examples=1000)
@given(text=PERCENT_TEXT)
def test_percent_decoding_gives_what_the_stdlib_gives(text: str) -> None:
    assert decoding.percent_decoded(text) == unquote_to_bytes(text)


def test_percent_decoding_of_a_refund_body_takes_the_fast_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The canonical body must not fall back to the stdlib's loop, or the
    # speed-up is gone without any test noticing.
    monkeypatch.setattr(decoding, "unquote_to_bytes", None)
    encoded = quote(json.dumps({"mchId": "1", "note": "é \\ %"}), safe="")
    assert (
        decoding.percent_decoded(encoded) == json.dumps({"mchId": "1", "note": "é \\ %"}).encode()
    )
