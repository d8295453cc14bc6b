"""Errors of the refund domain.

::

    DomainError
    ├── AccessDenied            who is asking may not ask
    │   ├── MerchantNotFound
    │   ├── MerchantDisabled
    │   └── OperatorNotAllowed
    ├── RefundRefused           a business rule says no; nothing changed
    │   ├── OrderNotFound
    │   ├── OrderNotRefundable
    │   ├── ChannelNotSupported
    │   ├── CurrencyMismatch
    │   ├── ChannelMismatch
    │   ├── RefundAmountExceeded
    │   ├── RefundLimitExceeded
    │   ├── RefundNumberConflict
    │   └── RefundNotFound
    ├── InvalidTransition       a status change the state machine forbids
    └── AlreadyExists           an id that must be unique is taken
"""

from __future__ import annotations

__all__ = [
    "AccessDenied",
    "AlreadyExists",
    "ChannelMismatch",
    "ChannelNotSupported",
    "CurrencyMismatch",
    "DomainError",
    "InvalidTransition",
    "MerchantDisabled",
    "MerchantNotFound",
    "OperatorNotAllowed",
    "OrderNotFound",
    "OrderNotRefundable",
    "RefundAmountExceeded",
    "RefundLimitExceeded",
    "RefundNotFound",
    "RefundNumberConflict",
    "RefundRefused",
]


class DomainError(Exception):
    """Base of every refund-domain error."""


class AccessDenied(DomainError):
    pass


class MerchantNotFound(AccessDenied):
    pass


class MerchantDisabled(AccessDenied):
    pass


class OperatorNotAllowed(AccessDenied):
    pass


class RefundRefused(DomainError):
    pass


class OrderNotFound(RefundRefused):
    pass


class OrderNotRefundable(RefundRefused):
    pass


class ChannelNotSupported(RefundRefused):
    pass


class CurrencyMismatch(RefundRefused):
    pass


class ChannelMismatch(RefundRefused):
    pass


class RefundAmountExceeded(RefundRefused):
    pass


class RefundLimitExceeded(RefundRefused):
    pass


class RefundNumberConflict(RefundRefused):
    pass


class RefundNotFound(RefundRefused):
    pass


class InvalidTransition(DomainError):
    pass


class AccessChanged(DomainError):
    """The merchant or operator changed after the request was authorized: nothing
    was reserved. The request is authorized again against the current rows."""


class AlreadyExists(DomainError):
    """An id that must be unique is taken (merchant, operator, order)."""
