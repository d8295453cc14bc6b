"""Alipay OpenAPI refunds (``alipay.trade.refund``) and refund queries, signed RSA2."""

from refundgate.channels.alipay.connector import AlipayConnector, AlipayCredentials, Exchange

__all__ = ["AlipayConnector", "AlipayCredentials", "Exchange"]
