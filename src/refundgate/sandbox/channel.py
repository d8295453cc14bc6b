"""In-process sandbox channels, behind the same port as the real connectors.

What a refund gets is decided by its order's *sandbox outcome*:

* ``succeed``: confirmed at once;
* ``processing``: accepted, final later (a query then finds it succeeded);
* ``fail``: refused with a definitive code of the family's own table;
* ``timeout``: the channel commits the refund but the gateway sees exactly
  what a read timeout gives it: :class:`~refundgate.ports.OutcomeUnknown`.
  No time is actually spent waiting.

Like the real channels, a sandbox keys refunds by our refund id: asking twice
for one refund gives one refund, not two.
"""

from __future__ import annotations

import threading

from refundgate.domain.channels import ChannelFamily
from refundgate.domain.model import SandboxOutcome
from refundgate.ports import (
    ChannelOutcome,
    ChannelRefund,
    ChannelResult,
    NoSuchRefund,
    OutcomeUnknown,
)
from refundgate.sandbox.ledger import SandboxCall, SandboxLedger

__all__ = ["SandboxChannel", "sandbox_channels"]

#: A definitive refusal code and message of each family (channels.md §A.5, §C.6, §D.3).
_REFUSALS = {
    ChannelFamily.WECHAT: ("NOTENOUGH", "merchant refundable balance is insufficient"),
    ChannelFamily.ALIPAY: ("ACQ.SELLER_BALANCE_NOT_ENOUGH", "seller balance is insufficient"),
    ChannelFamily.UNIONPAY: ("01", "transaction failed"),
}

_ID_PREFIXES = {
    ChannelFamily.WECHAT: "50",
    ChannelFamily.ALIPAY: "AP",
    ChannelFamily.UNIONPAY: "UP",
}


class SandboxChannel:
    """A sandbox of one channel family's refund API."""

    def __init__(self, family: ChannelFamily, ledger: SandboxLedger) -> None:
        self.family = family
        self._ledger = ledger
        self._refunds: dict[str, SandboxOutcome] = {}
        self._lock = threading.Lock()

    def _remember(self, request: ChannelRefund) -> SandboxOutcome:
        planned = request.order.sandbox_outcome or SandboxOutcome.SUCCEED
        with self._lock:
            return self._refunds.setdefault(request.refund.refund_order_id, planned)

    def _record(self, operation: str, request: ChannelRefund, answer: str) -> None:
        refund = request.refund
        call = SandboxCall(
            self.family.value, operation, refund.refund_order_id, refund.pay_order_id,
            refund.amount, refund.currency, answer,
        )  # fmt: skip
        self._ledger.record(call)

    def _channel_id(self, request: ChannelRefund) -> str:
        return _ID_PREFIXES[self.family] + request.refund.refund_order_id

    async def refund(self, request: ChannelRefund) -> ChannelOutcome:
        outcome = self._remember(request)
        self._record("refund", request, outcome.value)
        if outcome is SandboxOutcome.TIMEOUT:
            raise OutcomeUnknown("sandbox: read timeout after the request was sent")
        if outcome is SandboxOutcome.FAIL:
            code, message = _REFUSALS[self.family]
            return ChannelOutcome(ChannelResult.FAILED, code=code, message=message)
        result = (
            ChannelResult.PROCESSING if outcome is SandboxOutcome.PROCESSING
            else ChannelResult.SUCCEEDED
        )  # fmt: skip
        return ChannelOutcome(result, channel_refund_id=self._channel_id(request), code="SUCCESS")

    def _known(self, refund_order_id: str) -> SandboxOutcome | None:
        """What this channel did with the refund, remembered or (after a restart of
        the process) read back from the ledger file, as a real channel keeps it."""
        with self._lock:
            outcome = self._refunds.get(refund_order_id)
        if outcome is not None:
            return outcome
        call = self._ledger.first_refund(refund_order_id)
        if call is None or call.family != self.family.value:
            return None
        with self._lock:
            return self._refunds.setdefault(refund_order_id, SandboxOutcome(call.answer))

    async def query(self, request: ChannelRefund) -> ChannelOutcome:
        outcome = self._known(request.refund.refund_order_id)
        self._record("query", request, outcome.value if outcome else "not_found")
        if outcome is None:
            raise NoSuchRefund("sandbox: no such refund")
        if outcome is SandboxOutcome.FAIL:
            code, message = _REFUSALS[self.family]
            return ChannelOutcome(ChannelResult.FAILED, code=code, message=message)
        return ChannelOutcome(
            ChannelResult.SUCCEEDED, channel_refund_id=self._channel_id(request), code="SUCCESS"
        )


def sandbox_channels(ledger: SandboxLedger) -> dict[ChannelFamily, SandboxChannel]:
    """One sandbox per family, sharing ``ledger``."""
    return {family: SandboxChannel(family, ledger) for family in ChannelFamily}
