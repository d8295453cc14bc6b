"""Connectors to the channels' real refund APIs: WeChat Pay, Alipay, UnionPay.

Each folder holds ``signing.py`` (the channel's cryptography), ``wire.py`` (its
fields, encoding and answer-code table) and ``connector.py`` (HTTP and
credentials, implementing :class:`refundgate.ports.ChannelConnector`). The
folders do not import each other, and nothing here imports the simulators in
``refundgate.sandbox``: each side is written from the channel's documentation.
"""
