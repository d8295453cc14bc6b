"""Reading a request the way WeChat does (channels.md §A.9 items 1–3).

Each check that fails raises :class:`Refusal` carrying the answer to send:
unsigned ``return_code=FAIL`` for transport, XML, field and signature
problems; a signed ``result_code=FAIL`` with an ``err_code`` for business ones.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from refundgate.sandbox.simulator import Request, Response
from refundgate.sandbox.wechat import codec
from refundgate.sandbox.wechat.answers import MESSAGES

__all__ = ["Asked", "NonceMemory", "Refusal", "check_formats", "fail", "read_signed"]

_CONTENT_TYPE = "text/xml; charset=utf-8"
_REFUND_NO = re.compile(r"[0-9A-Za-z_\-|*@]{1,64}")
_FEE = re.compile(r"[1-9][0-9]{0,11}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_URL = re.compile(r"https?://[^\s<>\"]{1,248}")


class Refusal(Exception):
    """The request is answered with ``response`` and changes nothing."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def fail(kind: str) -> Refusal:
    """An unsigned ``return_code=FAIL`` refusal."""
    body = codec.render({"return_code": "FAIL", "return_msg": MESSAGES[kind]})
    return Refusal(Response(200, body, _CONTENT_TYPE))


@dataclass(frozen=True, slots=True)
class Asked:
    """An authentic request: its fields and the sign type answers must use."""

    fields: Mapping[str, str]
    sign_type: str

    def get(self, name: str) -> str:
        return self.fields.get(name, "")


class NonceMemory:
    """The last ``size`` nonces seen; a repeat is refused as a replayed message."""

    def __init__(self, size: int = 10_000) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def first_time(self, nonce: str) -> bool:
        with self._lock:
            if nonce in self._seen:
                return False
            self._seen[nonce] = None
            if len(self._seen) > self._size:
                self._seen.popitem(last=False)
            return True


def _fields(request: Request) -> dict[str, str]:
    if not request.body.strip():
        raise fail("empty")
    try:
        request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise fail("encoding") from None
    try:
        return codec.parse(request.body)
    except codec.BadXml:
        raise fail("xml") from None


def read_signed(
    request: Request,
    *,
    key: str,
    required: Iterable[str],
    one_of: Iterable[str],
    nonces: NonceMemory,
) -> Asked:
    """Parse, check presence, sign type, signature and nonce."""
    fields = _fields(request)
    if any(not fields.get(name) for name in required) or not any(
        fields.get(name) for name in one_of
    ):
        raise fail("missing")
    sign_type = fields.get("sign_type") or "MD5"
    if sign_type not in codec.SIGN_TYPES or len(fields["nonce_str"]) > 32:
        raise fail("format")
    if not codec.signature_ok(fields, key, sign_type):
        raise fail("sign")
    if not nonces.first_time(fields["nonce_str"]):
        raise fail("nonce")
    return Asked(fields, sign_type)


def check_formats(asked: Asked, business_error: Callable[[str, str], Refusal]) -> None:
    """The refund request's field formats (§A.2)."""
    if not _FEE.fullmatch(asked.get("total_fee")):
        raise fail("total_fee")
    if not _FEE.fullmatch(asked.get("refund_fee")):
        raise fail("refund_fee")
    if not _REFUND_NO.fullmatch(asked.get("out_refund_no")):
        raise business_error("PARAM_ERROR", "out_refund_no格式错误")
    currency = asked.get("refund_fee_type")
    if currency and not _CURRENCY.fullmatch(currency):
        raise business_error("PARAM_ERROR", "refund_fee_type格式错误")
    notify_url = asked.get("notify_url")
    if notify_url and not _URL.fullmatch(notify_url):
        raise business_error("PARAM_ERROR", "notify_url格式错误")
