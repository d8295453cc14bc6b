"""A protocol-faithful Alipay OpenAPI simulator (refund and its query), under ``/alipay``."""

from refundgate.sandbox.alipay.rsa2 import KeyPair
from refundgate.sandbox.alipay.simulator import AlipaySimulator

__all__ = ["AlipaySimulator", "KeyPair"]
