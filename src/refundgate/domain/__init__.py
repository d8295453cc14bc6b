"""The refund domain: plain Python, no I/O."""

from refundgate.domain.channels import ChannelFamily, ChannelPolicy, family_of, policy_for
from refundgate.domain.errors import (
    AccessDenied,
    AlreadyExists,
    ChannelMismatch,
    ChannelNotSupported,
    CurrencyMismatch,
    DomainError,
    InvalidTransition,
    MerchantDisabled,
    MerchantNotFound,
    OperatorNotAllowed,
    OrderNotFound,
    OrderNotRefundable,
    RefundAmountExceeded,
    RefundLimitExceeded,
    RefundNotFound,
    RefundNumberConflict,
    RefundRefused,
)
from refundgate.domain.merchant import Merchant, MerchantStatus, Operator
from refundgate.domain.model import (
    BalanceChange,
    OrderStatus,
    PayOrder,
    Refund,
    RefundDraft,
    RefundRequest,
    RefundStatus,
    SandboxOutcome,
)
from refundgate.domain.money import Money
from refundgate.domain.rules import check_refund
from refundgate.domain.secret import Secret

__all__ = [
    "AccessDenied",
    "AlreadyExists",
    "BalanceChange",
    "ChannelFamily",
    "ChannelMismatch",
    "ChannelNotSupported",
    "ChannelPolicy",
    "CurrencyMismatch",
    "DomainError",
    "InvalidTransition",
    "Merchant",
    "MerchantDisabled",
    "MerchantNotFound",
    "MerchantStatus",
    "Money",
    "Operator",
    "OperatorNotAllowed",
    "OrderNotFound",
    "OrderNotRefundable",
    "OrderStatus",
    "PayOrder",
    "Refund",
    "RefundAmountExceeded",
    "RefundDraft",
    "RefundLimitExceeded",
    "RefundNotFound",
    "RefundNumberConflict",
    "RefundRefused",
    "RefundRequest",
    "RefundStatus",
    "SandboxOutcome",
    "Secret",
    "check_refund",
    "family_of",
    "policy_for",
]
