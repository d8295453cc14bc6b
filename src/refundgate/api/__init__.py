"""The HTTP face of the gateway."""

from refundgate.api.app import GatewayApp

__all__ = ["GatewayApp"]
