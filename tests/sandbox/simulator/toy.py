"""A toy channel on the simulator base: JSON in, JSON out, a fake signature.

Small on purpose: it shows how a channel plugs in, and lets the base be
tested without any real channel's wire format.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace

from refundgate.sandbox.simulator import (
    Notice,
    Operation,
    RefundState,
    Request,
    Response,
    SimRefund,
    Simulator,
    json_response,
)
from refundgate.sandbox.simulator.faults import Fault


class ToyChannel:
    name = "toy"

    def __init__(self, **options: object) -> None:
        self.sim = Simulator(self, **options)  # type: ignore[arg-type]
        self.sim.router.add("POST", "/refund", self.refund)

    def credentials(self) -> Mapping[str, str]:
        return {"merchant": "M1", "key": "toy-key"}

    def trade_no(self, out_trade_no: str, sequence: int) -> str:
        return f"TOY{sequence:06d}"

    def notice(self, refund: SimRefund) -> Notice | None:
        if refund.notify_url is None:
            return None
        body = json.dumps({"refund_no": refund.refund_no, "status": refund.state.value})
        return Notice(refund.notify_url, body.encode(), "application/json", refund.refund_no)

    async def refund(self, request: Request) -> Response:
        fields = json.loads(request.body)
        trade = self.sim.ledger.trade(fields["out_trade_no"])
        if trade is None:
            return json_response(200, {"code": "NO_TRADE"})
        fault = self.sim.take_fault(trade.out_trade_no, Operation.REFUND)
        if fault and fault.fault is Fault.HTTP_500:
            return self.sim.server_error()
        if fault and fault.fault is Fault.REJECT:
            return json_response(200, {"code": fault.code or "REFUSED"})
        with self.sim.ledger.atomic():
            known = self.sim.ledger.refund(fields["refund_no"])
            if known is not None:
                self.sim.ledger.seen_again(known)
                return json_response(200, {"code": "OK", "id": known.channel_refund_id})
            if fields["amount"] > self.sim.ledger.remaining(trade.out_trade_no):
                return json_response(200, {"code": "TOO_MUCH"})
            refund = SimRefund(
                refund_no=fields["refund_no"],
                out_trade_no=trade.out_trade_no,
                trade_no=trade.trade_no,
                amount=fields["amount"],
                currency=trade.currency,
                channel_refund_id="TR" + fields["refund_no"],
                created_at=self.sim.clock.now(),
                notify_url=fields.get("notify_url"),
            )
            self.sim.commit(refund, fault)
        answer = json_response(200, {"code": "OK", "id": refund.channel_refund_id, "sig": "good"})
        return self.sim.shape(answer, fault, bad_signature=_spoil)


def _spoil(answer: Response) -> Response:
    return replace(answer, body=answer.body.replace(b'"good"', b'"evil"'))


__all__ = ["RefundState", "ToyChannel"]
