"""Sandbox channels, their call ledger, and the demo data seeder."""

from refundgate.sandbox.channel import SandboxChannel, sandbox_channels
from refundgate.sandbox.ledger import SandboxCall, SandboxLedger

__all__ = ["SandboxCall", "SandboxChannel", "SandboxLedger", "sandbox_channels"]
