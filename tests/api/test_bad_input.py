"""Bad input of every shape: an unsigned ``retCode=FAIL``, never a 500, and
nothing changed, no channel called (G5)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, quote_from_bytes, urlencode

import pytest

from refundgate.protocol import BODY_LIMIT
from tests.api.support import assert_accepted, assert_protocol_failure, nothing_changes
from tests.conftest import Gateway, params_body, refund_fields, signed_fields

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def signed_json(**overrides: Any) -> str:
    """A valid, signed request as JSON text."""
    fields = signed_fields(refund_fields(**overrides))
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


def with_raw_value(name: str, raw: str) -> str:
    """A signed request's JSON with ``name`` set to the raw JSON text ``raw``."""
    fields = signed_fields(refund_fields())
    fields[name] = "__RAW__"
    return json.dumps(fields, separators=(",", ":")).replace('"__RAW__"', raw)


def params(text: str) -> bytes:
    return urlencode({"params": text}).encode()


async def refused(gateway: Gateway, body: bytes, content_type: str = FORM) -> dict[str, Any]:
    """POST ``body``; check the answer is a PARAM_ERROR that changed nothing."""
    with nothing_changes(gateway):
        response = await gateway.post("/v1/refund_order", body, content_type)
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    assert_protocol_failure(answer, "PARAM_ERROR")
    return answer


# -- JSON values that are not text or a whole number ---------------------------


@pytest.mark.parametrize(
    "raw",
    ["19.99", "100.0", "1e2", "1E2", "-100", "true", "false", "[100]", '{"cents":100}'],
)
async def test_an_amount_that_is_not_whole_cents_is_refused(gateway: Gateway, raw: str) -> None:
    answer = await refused(gateway, params(with_raw_value("refundAmount", raw)))

    assert "[refundAmount]" in answer["retMsg"]


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity"])
async def test_a_non_finite_number_is_refused(gateway: Gateway, raw: str) -> None:
    await refused(gateway, params(with_raw_value("refundAmount", raw)))


@pytest.mark.parametrize("raw", ["true", "[1,2]", '{"a":1}', '[{"a":1}]'])
async def test_an_unknown_field_that_is_not_text_or_a_number_is_refused(
    gateway: Gateway, raw: str
) -> None:
    answer = await refused(gateway, params(with_raw_value("memo", raw)))

    assert "[memo]" in answer["retMsg"]


async def test_a_nested_object_is_blamed_on_the_field_that_holds_it(gateway: Gateway) -> None:
    # The inner object must not be read as the request's own fields: retMsg
    # names memo, not the refundAmount inside it.
    answer = await refused(gateway, params(with_raw_value("memo", '{"refundAmount":{"x":1}}')))

    assert "[memo]" in answer["retMsg"]


# -- bodies that are not a JSON object -------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["[]", "[1,2]", '"params"', "100", "null", "true", "{", "{}}", "", "{'mchId':'1'}"],
)
async def test_params_that_are_not_a_json_object_are_refused(gateway: Gateway, text: str) -> None:
    await refused(gateway, params(text))


@pytest.mark.parametrize("text", ["[]", "100", "null", "{", "mchId=10000576"])
async def test_a_json_body_that_is_not_an_object_is_refused(gateway: Gateway, text: str) -> None:
    await refused(gateway, text.encode(), JSON)


async def test_deeply_nested_json_is_refused(gateway: Gateway) -> None:
    await refused(gateway, b"[" * 5000 + b"]" * 5000, JSON)


async def test_a_duplicated_json_field_is_refused(gateway: Gateway) -> None:
    text = signed_json()[:-1] + ',"refundAmount":"200"}'

    await refused(gateway, params(text))


async def test_a_duplicated_form_field_is_refused(gateway: Gateway) -> None:
    body = urlencode(signed_fields(refund_fields())) + "&refundAmount=200"

    await refused(gateway, body.encode())


async def test_params_alongside_other_form_fields_is_refused(gateway: Gateway) -> None:
    body = params(signed_json()) + b"&mchId=10000576"

    await refused(gateway, body)


# -- bytes that are not UTF-8 -------------------------------------------------------


async def test_raw_non_utf8_bytes_are_refused(gateway: Gateway) -> None:
    body = b'params={"mchId":"\xff\xfe"}'

    await refused(gateway, body)


async def test_percent_encoded_non_utf8_bytes_are_refused(gateway: Gateway) -> None:
    body = "params=" + quote(signed_json(device="__X__")).replace("__X__", "%FF%FE")

    await refused(gateway, body.encode())


async def test_a_non_utf8_json_body_is_refused(gateway: Gateway) -> None:
    body = signed_json(device="__X__").encode().replace(b"__X__", b"\xc3\x28")

    await refused(gateway, body, JSON)


async def test_a_latin1_encoded_body_is_refused(gateway: Gateway) -> None:
    latin1 = signed_json(device="Café").encode("latin-1")

    await refused(gateway, b"params=" + quote_from_bytes(latin1).encode())


async def test_non_utf8_in_the_query_string_is_refused(gateway: Gateway) -> None:
    with nothing_changes(gateway):
        response = await gateway.client.post("/v1/refund_order?params=%FF%FE", content=b"")

    assert_protocol_failure(response.json(), "PARAM_ERROR")


@pytest.mark.parametrize("name", ["payOrderId", "device", "memo", "sign"])
async def test_an_unpaired_surrogate_escape_is_refused(gateway: Gateway, name: str) -> None:
    # Valid UTF-8 on the wire, but "\ud800" decodes to text that has no UTF-8
    # form, so it can be neither signed nor stored.
    await refused(gateway, params(with_raw_value(name, '"\\ud800"')))


# -- empty, garbage, too large --------------------------------------------------------


async def test_an_empty_body_is_refused(gateway: Gateway) -> None:
    answer = await refused(gateway, b"")

    assert "empty" in answer["retMsg"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"\x00\x01\x02\x03", "application/octet-stream"),
        (b"hello there", "text/plain"),
        (b"<refund><mchId>10000576</mchId></refund>", "application/xml"),
        (b"--x\r\nContent-Disposition: form-data; name=mchId\r\n\r\n1\r\n--x--", "garbage"),
        (b"params=1&params=2", FORM),
        (b"=&=&&", FORM),
    ],
    ids=["octets", "text", "xml", "multipart-ish", "params-twice", "blank-pairs"],
)
async def test_garbage_is_refused(gateway: Gateway, body: bytes, content_type: str) -> None:
    await refused(gateway, body, content_type)


async def test_a_form_body_labelled_json_is_refused(gateway: Gateway) -> None:
    await refused(gateway, params_body(signed_fields(refund_fields())), JSON)


async def test_a_body_over_16_kib_is_refused_without_a_500(gateway: Gateway) -> None:
    body = params_body(signed_fields(refund_fields(memo="m" * BODY_LIMIT)))

    with nothing_changes(gateway):
        response = await gateway.post("/v1/refund_order", body)

    assert response.status_code in (200, 413)
    assert_protocol_failure(response.json(), "PARAM_ERROR")


async def test_a_body_over_16_kib_without_a_length_header_is_refused(gateway: Gateway) -> None:
    body = params_body(signed_fields(refund_fields(memo="m" * BODY_LIMIT)))

    async def chunks() -> Any:
        for start in range(0, len(body), 1024):
            yield body[start : start + 1024]

    with nothing_changes(gateway):
        response = await gateway.client.post(
            "/v1/refund_order", content=chunks(), headers={"content-type": FORM}
        )

    assert response.status_code in (200, 413)
    assert_protocol_failure(response.json(), "PARAM_ERROR")


async def test_a_query_string_over_16_kib_is_refused(gateway: Gateway) -> None:
    query = params_body(signed_fields(refund_fields(memo="m" * BODY_LIMIT))).decode()

    with nothing_changes(gateway):
        response = await gateway.client.post(f"/v1/refund_order?{query}", content=b"")

    assert response.status_code in (200, 413)
    assert_protocol_failure(response.json(), "PARAM_ERROR")


async def test_a_body_of_exactly_16_kib_is_accepted(gateway: Gateway) -> None:
    def body_with(memo_length: int) -> bytes:
        return params_body(signed_fields(refund_fields(memo="m" * memo_length)))

    short = len(body_with(0))
    body = body_with(BODY_LIMIT - short)
    assert len(body) == BODY_LIMIT

    response = await gateway.post("/v1/refund_order", body)

    assert response.status_code == 200
    assert_accepted(response.json(), status=2)


# -- who is asking ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"mchId": "99999999"}, "MCH_NOT_EXIST"),
        ({"key": "WRONGKEY"}, "SIGN_ERROR"),
        ({"loginName": "mallory"}, "LOGIN_NAME_INVALID"),
        ({"loginName": "viewer"}, "LOGIN_NAME_INVALID"),
    ],
    ids=["unknown-merchant", "wrong-key", "unknown-operator", "read-only-operator"],
)
async def test_the_wrong_caller_changes_nothing(
    gateway: Gateway, overrides: dict[str, str], code: str
) -> None:
    with nothing_changes(gateway):
        answer = await gateway.refund(**overrides)

    assert_protocol_failure(answer, code)
