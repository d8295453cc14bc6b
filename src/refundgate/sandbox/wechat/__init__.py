"""The WeChat Pay v2 refund simulator (channels.md §A), on the shared simulator base."""

from refundgate.sandbox.wechat.account import SandboxMerchant
from refundgate.sandbox.wechat.simulator import NOTIFY_RETRIES, WeChatSimulator

__all__ = ["NOTIFY_RETRIES", "SandboxMerchant", "WeChatSimulator"]
