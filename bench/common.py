"""What the benchmark's pieces agree on: the merchant, its orders, the bodies.

One merchant with one operator and N paid Alipay orders (Alipay has no count
or spacing limit, so many 1-cent refunds of one order are all accepted). Its
key is fixed: this is a throwaway benchmark database, never a real merchant.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from urllib.parse import quote

from refundgate.protocol.signing import sign

MCH_ID = "20000001"
KEY = "BENCHKEY0123456789ABCDEF01234567"
LOGIN_NAME = "bench"
CHANNEL_ID = "ALIPAY_QR"
CURRENCY = "CAD"
ORDER_AMOUNT = 10**12  # effectively unlimited: every 1-cent refund fits
REFUND_AMOUNT = 1


def order_id(index: int) -> str:
    return f"BO{index:09d}"


def refund_body(refund_no: str, order_index: int) -> str:
    """One form body ``params=<url-encoded signed JSON>``, as IOTPay's samples send it."""
    fields: dict[str, str | int | None] = {
        "mchId": MCH_ID,
        "mchRefundNo": refund_no,
        "payOrderId": order_id(order_index),
        "refundAmount": str(REFUND_AMOUNT),
        "loginName": LOGIN_NAME,
        "clientIp": "127.0.0.1",
        "currency": CURRENCY,
    }
    fields["sign"] = sign(fields, KEY)
    return "params=" + quote(json.dumps(fields, separators=(",", ":")), safe="")


def write_bodies(path: Path, count: int, *, tag: str, orders: int) -> None:
    """``count`` bodies, one a line, each with a unique refund number, random orders."""
    rnd = random.Random(tag)  # noqa: S311 - a reproducible spread of orders, not a secret
    with path.open("w") as out:
        for index in range(count):
            out.write(refund_body(f"{tag}{index:08d}", rnd.randint(1, orders)))
            out.write("\n")
