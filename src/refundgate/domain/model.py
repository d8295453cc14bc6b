"""Pay orders, refunds and the refund state machine.

Times are epoch milliseconds (UTC); amounts are minor units of the order's
currency. A refund's life::

    PENDING ──► PROCESSING ──► SUCCEEDED
       │            │     └──► FAILED
       │            └────────► REVIEW ──► SUCCEEDED | FAILED
       └──► SUCCEEDED | FAILED | REVIEW

PENDING, PROCESSING and REVIEW hold a reservation on the order's balance;
SUCCEEDED turns it into a refunded amount; FAILED releases it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from refundgate.domain.errors import InvalidTransition
from refundgate.domain.merchant import Access
from refundgate.domain.money import Money

__all__ = [
    "BalanceChange",
    "OrderStatus",
    "PayOrder",
    "Refund",
    "RefundDraft",
    "RefundRequest",
    "RefundStatus",
    "SandboxOutcome",
]


class RefundStatus(enum.Enum):
    """A refund's state, with the status number merchants see."""

    PENDING = 0
    PROCESSING = 1
    SUCCEEDED = 2
    FAILED = 3
    REVIEW = 4

    @property
    def wire_status(self) -> int:
        """0 pending, 1 refunding, 2 succeeded, 3 failed; review is still refunding."""
        return 1 if self is RefundStatus.REVIEW else self.value

    @property
    def is_final(self) -> bool:
        return self in (RefundStatus.SUCCEEDED, RefundStatus.FAILED)

    @property
    def holds_reservation(self) -> bool:
        return not self.is_final

    def can_become(self, target: RefundStatus) -> bool:
        return target in _TRANSITIONS[self]

    def check_transition(self, target: RefundStatus) -> None:
        """Raise :class:`InvalidTransition` unless ``self → target`` is allowed."""
        if not self.can_become(target):
            raise InvalidTransition(f"{self.name} → {target.name}")


_TRANSITIONS: Mapping[RefundStatus, frozenset[RefundStatus]] = MappingProxyType(
    {
        RefundStatus.PENDING: frozenset(
            {
                RefundStatus.PROCESSING,
                RefundStatus.SUCCEEDED,
                RefundStatus.FAILED,
                RefundStatus.REVIEW,
            }
        ),
        RefundStatus.PROCESSING: frozenset(
            {RefundStatus.SUCCEEDED, RefundStatus.FAILED, RefundStatus.REVIEW}
        ),
        RefundStatus.REVIEW: frozenset({RefundStatus.SUCCEEDED, RefundStatus.FAILED}),
        RefundStatus.SUCCEEDED: frozenset(),
        RefundStatus.FAILED: frozenset(),
    }
)


@dataclass(frozen=True, slots=True)
class BalanceChange:
    """How a status change moves the order's balances."""

    reserved: int = 0
    refunded: int = 0
    refund_count: int = 0

    @classmethod
    def of(cls, source: RefundStatus, target: RefundStatus, amount: int) -> BalanceChange:
        source.check_transition(target)
        if target is RefundStatus.SUCCEEDED:
            return cls(reserved=-amount, refunded=amount)
        if target is RefundStatus.FAILED:
            return cls(reserved=-amount, refund_count=-1)
        return cls()


class OrderStatus(enum.Enum):
    PAID = "PAID"
    CLOSED = "CLOSED"


class SandboxOutcome(enum.Enum):
    """What the sandbox channel does with refunds of an order."""

    SUCCEED = "succeed"
    PROCESSING = "processing"
    FAIL = "fail"
    TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True)
class PayOrder:
    """A paid order and its refund balances."""

    mch_id: str
    pay_order_id: str
    channel_id: str
    currency: str
    amount: int
    paid_at: int
    status: OrderStatus = OrderStatus.PAID
    refunded_amount: int = 0
    reserved_amount: int = 0
    refund_count: int = 0
    last_refund_at: int | None = None
    mch_order_no: str | None = None
    channel_order_no: str | None = None
    sandbox_outcome: SandboxOutcome | None = None

    @property
    def refundable_amount(self) -> int:
        return self.amount - self.refunded_amount - self.reserved_amount

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)

    def reserve(self, amount: int, at: int) -> PayOrder:
        """The order once ``amount`` is reserved for a new refund at ``at``."""
        return replace(
            self,
            reserved_amount=self.reserved_amount + amount,
            refund_count=self.refund_count + 1,
            last_refund_at=at,
        )


@dataclass(frozen=True, slots=True)
class RefundRequest:
    """A refund as a merchant asked for it."""

    mch_id: str
    mch_refund_no: str
    pay_order_id: str
    amount: int
    login_name: str
    client_ip: str
    currency: str | None = None
    channel_id: str | None = None
    device: str | None = None
    notify_url: str | None = None
    extra: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class RefundDraft:
    """A request given our id and time, ready to be reserved.

    ``authority``: what the request was authorized against; the store then
    reserves (or replays) only while it still holds, else raises
    :class:`~refundgate.domain.errors.AccessChanged` and changes nothing.
    """

    request: RefundRequest
    refund_order_id: str
    requested_at: int
    authority: Access | None = None


@dataclass(frozen=True, slots=True)
class Refund:
    """A reserved refund and what is known of it."""

    refund_order_id: str
    mch_id: str
    mch_refund_no: str
    pay_order_id: str
    channel_id: str
    amount: int
    currency: str
    status: RefundStatus
    created_at: int
    updated_at: int
    login_name: str = ""
    client_ip: str = ""
    device: str | None = None
    notify_url: str | None = None
    channel_refund_id: str | None = None
    err_code: str | None = None
    err_msg: str | None = None
    succeeded_at: int | None = None

    @classmethod
    def reserved(cls, draft: RefundDraft, order: PayOrder) -> Refund:
        """The new, PENDING refund that reserving ``draft`` against ``order`` creates."""
        request = draft.request
        return cls(
            refund_order_id=draft.refund_order_id,
            mch_id=request.mch_id,
            mch_refund_no=request.mch_refund_no,
            pay_order_id=request.pay_order_id,
            channel_id=order.channel_id,
            amount=request.amount,
            currency=order.currency,
            status=RefundStatus.PENDING,
            created_at=draft.requested_at,
            updated_at=draft.requested_at,
            login_name=request.login_name,
            client_ip=request.client_ip,
            device=request.device,
            notify_url=request.notify_url,
        )

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)

    def answers(self, request: RefundRequest) -> bool:
        """Whether ``request`` is a retry of this refund (PROTOCOL.md, replay rule)."""
        return (
            request.pay_order_id == self.pay_order_id
            and request.amount == self.amount
            and request.currency in (None, self.currency)
            and request.channel_id in (None, self.channel_id)
        )
