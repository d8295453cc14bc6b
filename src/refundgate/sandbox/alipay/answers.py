"""The simulated gateway's answers: codes, messages and the signed JSON body.

An answer is ``{"<method>_response":{…},"sign":"…"}`` where the sign covers
the node's text exactly as sent (channels.md §C.5). Gateway-level refusals
(``40001``/``40002``) go out unsigned, as Alipay's do; business answers are signed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from refundgate.sandbox.alipay.rsa2 import KeyPair
from refundgate.sandbox.simulator import Response

__all__ = ["Answer", "Refusal", "render"]

CONTENT_TYPE = "application/json;charset=utf-8"

#: Messages the simulator gives with each sub_code (Alipay answers in Chinese).
_SUB_MESSAGES: Mapping[str, str] = {
    "isv.missing-method": "缺少方法名参数",
    "isv.missing-signature": "缺少签名参数",
    "isv.missing-signature-type": "缺少签名类型参数",
    "isv.missing-app-id": "缺少AppID参数",
    "isv.missing-timestamp": "缺少时间戳参数",
    "isv.missing-version": "缺少版本参数",
    "isv.missing-charset": "缺少编码参数",
    "isv.invalid-method": "不存在的方法名",
    "isv.invalid-app-id": "无效的AppID参数",
    "isv.invalid-signature-type": "无效的签名类型",
    "isv.invalid-signature": "验签出错",
    "isv.invalid-timestamp": "非法的时间戳参数",
    "isv.invalid-charset": "字符集错误",
    "isv.invalid-format": "参数格式错误",
    "isv.invalid-version": "版本号错误",
    "isv.invalid-encoding": "参数编码错误",
    "ACQ.INVALID_PARAMETER": "参数无效",
    "ACQ.TRADE_NOT_EXIST": "交易不存在",
    "ACQ.TRADE_HAS_FINISHED": "交易已完结",
    "ACQ.TRADE_HAS_CLOSE": "交易已经关闭",
    "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL": "退款金额超限",
    "ACQ.REFUND_FEE_ERROR": "退款金额不合法",
    "ACQ.SELLER_BALANCE_NOT_ENOUGH": "卖家余额不足",
    "ACQ.DISCORDANT_REPEAT_REQUEST": "请求信息不一致",
    "ACQ.TRADE_NOT_ALLOW_REFUND": "当前交易不允许退款",
    "ACQ.SYSTEM_ERROR": "系统错误",
    "isp.unknow-error": "系统繁忙",
}

_GATEWAY_MESSAGES = {
    "20000": "Service Currently Unavailable",
    "40001": "Missing Required Arguments",
    "40002": "Invalid Arguments",
    "40004": "Business Failed",
}


class Refusal(Exception):
    """A request the gateway turns down.

    ``signed`` is False for gateway-level refusals made before the request's
    own signature is known good: Alipay does not sign those.
    """

    def __init__(self, code: str, sub_code: str, *, signed: bool = True) -> None:
        super().__init__(f"{code} {sub_code}")
        self.code = code
        self.sub_code = sub_code
        self.signed = signed

    def fields(self) -> dict[str, object]:
        fields: dict[str, object] = {
            "code": self.code,
            "msg": _GATEWAY_MESSAGES.get(self.code, "Business Failed"),
        }
        if self.sub_code:
            fields.update(sub_code=self.sub_code, sub_msg=_SUB_MESSAGES.get(self.sub_code, "错误"))
        return fields


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer, before it is rendered: the node's name and fields, signed or not."""

    node: str
    fields: Mapping[str, object]
    signed: bool = True

    def text(self) -> str:
        # Built once; the sign covers exactly these characters (Chinese kept raw).
        return json.dumps(dict(self.fields), ensure_ascii=False, separators=(",", ":"))


def render(answer: Answer, key: KeyPair, *, sign_over: str | None = None) -> Response:
    """The HTTP answer. ``sign_over`` signs other text instead: a signature that fails."""
    text = answer.text()
    members = [f'"{answer.node}":{text}']
    if answer.signed:
        members.append(f'"sign":"{key.sign(text if sign_over is None else sign_over)}"')
    return Response(200, ("{" + ",".join(members) + "}").encode("utf-8"), CONTENT_TYPE)
