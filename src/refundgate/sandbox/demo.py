"""Demo data for the embedded default run: a merchant, an operator, paid orders."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from refundgate.domain.merchant import Merchant, Operator
from refundgate.domain.model import PayOrder, SandboxOutcome
from refundgate.domain.secret import Secret
from refundgate.ports import AdminStore
from refundgate.protocol.signing import sign

__all__ = ["DEMO_MCH_ID", "DEMO_ORDERS", "DemoData", "seed_demo"]

DEMO_MCH_ID = "10000001"
DEMO_LOGIN_NAME = "demo"

#: (pay order id, channel id, amount in cents, sandbox outcome)
_ORDERS = (
    ("DEMO-WX-0001", "WX_NATIVE", 10_000, SandboxOutcome.SUCCEED),
    ("DEMO-ALI-0001", "ALIPAY_QR", 10_000, SandboxOutcome.SUCCEED),
    ("DEMO-UPI-0001", "UPI_SEQ", 10_000, SandboxOutcome.SUCCEED),
    ("DEMO-ALI-PROC", "ALIPAY_QR", 5_000, SandboxOutcome.PROCESSING),
    ("DEMO-WX-FAIL", "WX_NATIVE", 5_000, SandboxOutcome.FAIL),
    ("DEMO-UPI-TIMEOUT", "UPI_QR", 5_000, SandboxOutcome.TIMEOUT),
)
#: The demo orders: (pay order id, channel id, amount in cents, sandbox outcome).
DEMO_ORDERS = _ORDERS


@dataclass(frozen=True, slots=True)
class DemoData:
    """What was seeded, for printing once: the key is shown only here."""

    mch_id: str
    key: Secret
    login_name: str
    orders: tuple[tuple[str, str, int, SandboxOutcome], ...]

    def curl(self, base_url: str) -> str:
        """A ready-to-paste ``curl`` that refunds 1.00 of the first Alipay order."""
        fields: dict[str, str | int | None] = {
            "mchId": self.mch_id,
            "mchRefundNo": "DEMO-REFUND-1",
            "payOrderId": "DEMO-ALI-0001",
            "refundAmount": "100",
            "loginName": self.login_name,
            "clientIp": "127.0.0.1",
        }
        fields["sign"] = sign(fields, self.key.reveal())
        params = json.dumps(fields, separators=(",", ":"))
        return f"curl -s {base_url}/v1/refund_order --data-urlencode 'params={params}'"


async def seed_demo(
    store: AdminStore, *, now: int, channel_order_nos: Mapping[str, str] | None = None
) -> DemoData:
    """Add the demo merchant, its operator and one paid order per family and outcome.

    ``channel_order_nos`` gives orders the channel's own payment number (the
    simulators' trade numbers in the default run: UnionPay refunds need one).
    """
    numbers = channel_order_nos or {}
    key = Secret(secrets.token_hex(16).upper())
    await store.add_merchant(Merchant(DEMO_MCH_ID, key, name="Demo merchant"), now=now)
    await store.add_operator(Operator(DEMO_MCH_ID, DEMO_LOGIN_NAME), now=now)
    for pay_order_id, channel_id, amount, outcome in _ORDERS:
        order = PayOrder(
            mch_id=DEMO_MCH_ID,
            pay_order_id=pay_order_id,
            channel_id=channel_id,
            currency="CAD",
            amount=amount,
            paid_at=now,
            sandbox_outcome=outcome,
            channel_order_no=numbers.get(pay_order_id),
        )
        await store.add_order(order)
    return DemoData(DEMO_MCH_ID, key, DEMO_LOGIN_NAME, _ORDERS)
