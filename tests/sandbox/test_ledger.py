"""The sandbox channels' call ledger: bounded in memory, whole in its file."""

from __future__ import annotations

from pathlib import Path

import pytest

from refundgate.domain import ChannelFamily, PayOrder, RefundStatus
from refundgate.domain.model import Refund
from refundgate.ports import ChannelRefund, ChannelResult
from refundgate.sandbox import ledger as ledger_module
from refundgate.sandbox import sandbox_channels
from refundgate.sandbox.ledger import SandboxCall, SandboxLedger
from tests.conftest import MCH_ID, NOW_MS


def _call(number: int) -> SandboxCall:
    return SandboxCall("alipay", "refund", f"R{number}", "P1", 100, "CNY", "succeed")


def _request(refund_order_id: str) -> ChannelRefund:
    refund = Refund(
        refund_order_id, MCH_ID, f"N-{refund_order_id}", "P1", "ALIPAY_QR", 100, "CNY",
        RefundStatus.PENDING, NOW_MS, NOW_MS,
    )  # fmt: skip
    return ChannelRefund(refund, PayOrder(MCH_ID, "P1", "ALIPAY_QR", "CNY", 10_000, NOW_MS))


def test_memory_keeps_the_latest_calls_and_the_file_keeps_them_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger_module, "KEPT_IN_MEMORY", 3)
    ledger = SandboxLedger(tmp_path / "calls.jsonl")
    for number in range(5):
        ledger.record(_call(number))
    assert ledger.calls == [_call(2), _call(3), _call(4)]
    assert SandboxLedger.read(tmp_path / "calls.jsonl") == [_call(n) for n in range(5)]


async def test_a_refund_the_memory_forgot_is_still_known_to_its_channel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ledger_module, "KEPT_IN_MEMORY", 2)
    ledger = SandboxLedger()
    channel = sandbox_channels(ledger)[ChannelFamily.ALIPAY]
    for number in range(4):
        await channel.refund(_request(f"R{number}"))
    assert [call.refund_order_id for call in ledger.calls] == ["R2", "R3"]
    answer = await channel.query(_request("R0"))  # a real channel keeps its refunds
    assert answer.result is ChannelResult.SUCCEEDED
