"""The unionpay connector."""
