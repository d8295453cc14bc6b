"""Answers in the IOTPay v1 envelope (PROTOCOL.md, "Answers").

A protocol-level failure is ``{"retCode": "FAIL", "retMsg": …, "errCode": …}``,
unsigned. Everything else is ``retCode=SUCCESS`` with the business result in
``resCode``, signed with the merchant's current key.
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from refundgate.protocol.errors import ErrorCode, Placement
from refundgate.protocol.signing import SignedValue, sign

__all__ = ["Answer", "business_answer", "encode", "failure_answer"]

#: An answer's fields, before encoding: text or whole numbers.
Answer = dict[str, SignedValue]


def failure_answer(code: ErrorCode, message: str | None = None) -> Answer:
    """The unsigned ``retCode=FAIL`` answer for a protocol-level failure."""
    if code.placement is not Placement.RET:
        raise ValueError(f"{code.wire} is a business refusal, not a protocol failure")
    return {"retCode": "FAIL", "retMsg": message or code.description, "errCode": code.wire}


def business_answer(
    fields: Mapping[str, SignedValue],
    *,
    key: str,
    refusal: ErrorCode | None = None,
    refusal_detail: str | None = None,
) -> Answer:
    """A signed ``retCode=SUCCESS`` answer carrying ``fields``.

    With ``refusal``, ``resCode`` is ``FAIL`` and ``errCode``/``errCodeDes`` say why.
    """
    answer: Answer = {"retCode": "SUCCESS", "retMsg": ""}
    if refusal is None:
        answer["resCode"] = "SUCCESS"
    else:
        if refusal.placement is not Placement.RES:
            raise ValueError(f"{refusal.wire} is a protocol failure, not a business refusal")
        answer["resCode"] = "FAIL"
        answer["errCode"] = refusal.wire
        answer["errCodeDes"] = refusal_detail or refusal.description
    answer.update((name, value) for name, value in fields.items() if value is not None)
    answer["sign"] = sign(answer, key)
    return answer


def encode(answer: Answer) -> bytes:
    """The JSON body of an answer: compact, UTF-8, names in the answer's order."""
    return orjson.dumps(answer)
