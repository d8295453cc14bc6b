"""The alipay connector."""
