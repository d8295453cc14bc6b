"""The ceiling: the least a refund can cost on this stack, as an RSGI app for granian.

Per request: take ``params=`` from the form body (percent-decoded as the
product does, the fastest way known), decode the JSON, verify the
MD5 sign (refundgate's own ``sign``; constant-time compare), reserve durably,
apply the outcome, sign the answer, send it. No merchant lookup (the key is
the benchmark merchant's, known at start), no logging, no framework. Not
product code: it is the denominator of bench/run.py's ratio.

Env: CEILING_DATABASE = a SQLite file path or a postgresql:// DSN.
"""

from __future__ import annotations

import hmac
import os
import secrets
import time
from typing import Any

import orjson

from bench.ceiling.pg_one_statement import PostgresCeiling
from bench.ceiling.sqlite_group import Refused, SqliteCeiling
from bench.common import KEY
from refundgate.protocol.decoding import percent_decoded
from refundgate.protocol.signing import sign

_HEADERS = [("content-type", "application/json; charset=utf-8")]


def _backend() -> Any:
    target = os.environ["CEILING_DATABASE"]
    if target.startswith("postgresql://"):
        return PostgresCeiling(target, pool_size=int(os.environ.get("CEILING_POOL", "16")))
    return SqliteCeiling(target)


_store: Any = None


def _fail(code: str) -> bytes:
    return orjson.dumps({"retCode": "FAIL", "errCode": code})


async def handle(body: bytes) -> bytes:
    global _store
    if not body.startswith(b"params="):
        return _fail("PARAM_ERROR")
    try:
        fields = orjson.loads(percent_decoded(body[7:].decode("latin-1").replace("+", " ")))
        given = fields["sign"].upper().encode()
        amount = int(fields["refundAmount"])
    except (orjson.JSONDecodeError, KeyError, ValueError, AttributeError, TypeError):
        return _fail("PARAM_ERROR")
    if not hmac.compare_digest(sign(fields, KEY).encode(), given):
        return _fail("SIGN_ERROR")
    now = time.time_ns() // 1_000_000
    r = {
        "mch_id": fields["mchId"], "refund_no": fields["mchRefundNo"],
        "order": fields["payOrderId"], "amount": amount, "now": now,
        "id": f"C{now}{secrets.token_hex(6).upper()}", "login": fields["loginName"],
        "ip": fields["clientIp"],
    }  # fmt: skip
    if _store is None:
        _store = _backend()
    try:
        channel_id, currency = await _store.refund(r)
    except Refused:
        return orjson.dumps({"retCode": "SUCCESS", "resCode": "FAIL", "errCode": "REFUSED"})
    except Exception as exc:
        return orjson.dumps({"retCode": "FAIL", "errCode": type(exc).__name__})
    answer: dict[str, Any] = {
        "retCode": "SUCCESS", "resCode": "SUCCESS", "mchId": r["mch_id"],
        "mchRefundNo": r["refund_no"], "payOrderId": r["order"], "refundOrderId": r["id"],
        "refundAmount": amount, "currency": currency, "channelId": channel_id, "status": 2,
        "channelOrderNo": "AP" + r["id"], "refundSuccTime": now,
    }  # fmt: skip
    answer["sign"] = sign(answer, KEY)
    return orjson.dumps(answer)


async def app(scope: Any, proto: Any) -> None:
    if scope.proto != "http":
        return
    if scope.path != "/v1/refund_order" or scope.method != "POST":
        proto.response_bytes(404, _HEADERS, b'{"retCode":"FAIL"}')
        return
    proto.response_bytes(200, _HEADERS, await handle(await proto()))
