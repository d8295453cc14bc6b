"""WeChat Pay API v2: refunds, refund queries and refund notifies (channels.md §A)."""

from refundgate.channels.wechat.connector import Exchange, WeChatConnector, WeChatCredentials
from refundgate.channels.wechat.signing import SignType
from refundgate.channels.wechat.tls import ClientCertificate

__all__ = ["ClientCertificate", "Exchange", "SignType", "WeChatConnector", "WeChatCredentials"]
