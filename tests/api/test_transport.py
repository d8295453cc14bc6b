"""Transport (PROTOCOL.md): every accepted body form carries the same request;
wrong methods and paths are transport errors, not protocol answers."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from refundgate.api import GatewayApp
from refundgate.ports import StoreError
from refundgate.protocol.signing import php_natural_order
from tests.api.support import assert_accepted, assert_protocol_failure, order_row, rows
from tests.conftest import KEY, Gateway, params_body, refund_fields, signed_fields

FORM = "application/x-www-form-urlencoded"


def canonical(fields: dict[str, Any]) -> dict[str, Any]:
    return {"content": params_body(fields), "headers": {"content-type": FORM}}


def canonical_with_charset(fields: dict[str, Any]) -> dict[str, Any]:
    return {"content": params_body(fields), "headers": {"content-type": f"{FORM}; charset=UTF-8"}}


def in_query_string(fields: dict[str, Any]) -> dict[str, Any]:
    return {"params": {"params": json.dumps(fields)}, "content": b""}


def json_body(fields: dict[str, Any]) -> dict[str, Any]:
    return {"content": json.dumps(fields).encode(), "headers": {"content-type": "application/json"}}


def json_body_without_content_type(fields: dict[str, Any]) -> dict[str, Any]:
    return {"content": json.dumps(fields).encode()}


def plain_form_fields(fields: dict[str, Any]) -> dict[str, Any]:
    return {"content": urlencode(fields).encode(), "headers": {"content-type": FORM}}


def php_unencoded(fields: dict[str, Any]) -> dict[str, Any]:
    """What IOTPay's PHP sample sends: ``params=`` and ``json_encode`` output as it is
    (which escapes ``/`` and non-ASCII characters)."""
    text = json.dumps(fields, separators=(",", ":")).replace("/", "\\/")
    body = ("params=" + text).encode()
    return {"content": body, "headers": {"content-type": FORM}}


FORMS: list[Callable[[dict[str, Any]], dict[str, Any]]] = [
    canonical,
    canonical_with_charset,
    in_query_string,
    json_body,
    json_body_without_content_type,
    plain_form_fields,
    php_unencoded,
]


@pytest.mark.parametrize("form", FORMS, ids=lambda form: form.__name__)
async def test_every_accepted_body_form_makes_the_same_refund(
    gateway: Gateway, form: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    fields = signed_fields(refund_fields(device="till 1", notifyUrl="https://m.example/r"))

    response = await gateway.client.post("/v1/refund_order", **form(fields))

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    answer = response.json()
    assert_accepted(answer, status=2)
    assert (answer["mchRefundNo"], answer["payOrderId"]) == ("R-1", "ALI-1")
    assert (answer["refundAmount"], answer["currency"]) == (100, "CAD")
    assert order_row(gateway, "ALI-1")["refunded_amount"] == 100


async def test_all_body_forms_of_one_request_are_one_refund(gateway: Gateway) -> None:
    fields = signed_fields(refund_fields())

    answers = [
        (await gateway.client.post("/v1/refund_order", **form(fields))).json() for form in FORMS
    ]

    assert len({answer["refundOrderId"] for answer in answers}) == 1
    assert len(gateway.ledger.calls) == 1


async def test_numbers_may_arrive_as_json_numbers(gateway: Gateway) -> None:
    # The PHP sample sends mchRefundNo as an integer ($_SERVER['REQUEST_TIME']).
    answer = await gateway.refund(mchRefundNo=1537224899, refundAmount=1999, mchId=10000576)

    assert_accepted(answer, status=2)
    assert (answer["mchRefundNo"], answer["refundAmount"]) == ("1537224899", 1999)


async def test_a_lower_case_sign_is_accepted(gateway: Gateway) -> None:
    fields = signed_fields(refund_fields())
    fields["sign"] = fields["sign"].lower()

    response = await gateway.post("/v1/refund_order", params_body(fields))

    assert_accepted(response.json(), status=2)


async def test_a_query_accepts_the_same_body_forms(gateway: Gateway) -> None:
    refund = await gateway.refund()
    fields = signed_fields({"mchId": "10000576", "mchRefundNo": "R-1"}, KEY)

    answers = [
        (await gateway.client.post("/v1/query_refund", **form(fields))).json() for form in FORMS
    ]

    assert all(answer == refund for answer in answers)


@pytest.mark.parametrize("path", ["/v1/refund_order", "/v1/query_refund"])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
async def test_only_post_is_allowed_on_the_merchant_routes(
    gateway: Gateway, path: str, method: str
) -> None:
    snapshot = gateway.snapshot()

    response = await gateway.client.request(method, path)

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["retCode"] == "FAIL"
    assert gateway.snapshot() == snapshot


async def test_a_get_with_a_signed_query_string_refunds_nothing(gateway: Gateway) -> None:
    query = {"params": json.dumps(signed_fields(refund_fields()))}

    response = await gateway.client.get("/v1/refund_order", params=query)

    assert response.status_code == 405
    assert gateway.ledger.calls == []
    assert order_row(gateway, "ALI-1")["reserved_amount"] == 0


@pytest.mark.parametrize("path", ["/", "/v1/refund", "/v1/refund_order/", "/v2/refund_order"])
async def test_an_unknown_path_is_404(gateway: Gateway, path: str) -> None:
    response = await gateway.client.post(path, content=params_body(signed_fields(refund_fields())))

    assert response.status_code == 404
    assert response.json()["retCode"] == "FAIL"
    assert gateway.ledger.calls == []


async def test_health_is_ok(gateway: Gateway) -> None:
    response = await gateway.client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_health_answers_head(gateway: Gateway) -> None:
    response = await gateway.client.head("/healthz")

    assert response.status_code == 200


async def test_health_refuses_post(gateway: Gateway) -> None:
    response = await gateway.client.post("/healthz")

    assert response.status_code == 405


class DatabaseDown:
    """A store that cannot reach its database."""

    async def ping(self) -> None:
        raise StoreError("sqlite: OperationalError: unable to open database file")


async def test_health_reports_an_unavailable_database(gateway: Gateway) -> None:
    app = GatewayApp(replace(gateway.deps, store=DatabaseDown()))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        response = await client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "database unavailable"}


async def test_text_beyond_ascii_is_signed_as_utf8(gateway: Gateway) -> None:
    fields = signed_fields(refund_fields(device="Caisse n°2 · 收银台"))

    response = await gateway.client.post("/v1/refund_order", **php_unencoded(fields))

    assert_accepted(response.json(), status=2)
    [row] = rows(gateway, "SELECT device FROM refunds")
    assert row["device"] == "Caisse n°2 · 收银台"


async def test_a_signature_in_php_natural_order_is_accepted(gateway: Gateway) -> None:
    # ksort($a, SORT_NATURAL | SORT_FLAG_CASE) puts refundable before refundAmount.
    fields = refund_fields(refundable="yes")
    ordered = sorted(fields.items(), key=lambda pair: php_natural_order(pair[0]))
    text = "".join(f"{name}={value}&" for name, value in ordered) + f"key={KEY}"
    php_sign = hashlib.md5(text.encode(), usedforsecurity=False).hexdigest().upper()
    assert php_sign != signed_fields(fields)["sign"]

    response = await gateway.post("/v1/refund_order", params_body({**fields, "sign": php_sign}))

    assert_accepted(response.json(), status=2)


async def test_a_php_body_with_a_plus_in_a_value_fails_its_signature_not_the_server(
    gateway: Gateway,
) -> None:
    # Unencoded, "+" decodes to a space: what was signed is not what arrives.
    fields = signed_fields(refund_fields(device="till+1"))

    response = await gateway.client.post("/v1/refund_order", **php_unencoded(fields))

    assert response.status_code == 200
    assert_protocol_failure(response.json(), "SIGN_ERROR")
    assert gateway.ledger.calls == []
