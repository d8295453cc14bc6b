"""The wechat connector."""
