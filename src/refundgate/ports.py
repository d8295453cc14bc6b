"""The ports the use cases need, and the types that cross them.

Adapters (``store/``, ``sandbox/``, ``channels/``) implement these protocols;
``bootstrap`` picks which. Channel errors form this tree, and say whether a
retry is safe::

    ChannelError
    ├── NotSent          the request never left us: safe to send again
    ├── OutcomeUnknown   it may have been applied: query with the same key first
    └── CallbackInvalid  a channel callback we cannot trust (bad signature, garbage)

    StoreError           the database could not be reached or failed; nothing
                         was committed by the call that raised it
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

from refundgate.domain.channels import ChannelFamily
from refundgate.domain.merchant import Access, Merchant, Operator
from refundgate.domain.model import PayOrder, Refund, RefundDraft, RefundStatus
from refundgate.domain.secret import Secret

__all__ = [
    "CUT_OFF",
    "EXCHANGE_TEXT_LIMIT",
    "Access",
    "AdminStore",
    "CallbackInvalid",
    "CallbackParser",
    "ChannelAccount",
    "ChannelAccounts",
    "ChannelCallback",
    "ChannelConnector",
    "ChannelError",
    "ChannelExchange",
    "ChannelOutcome",
    "ChannelRefund",
    "ChannelRegistry",
    "ChannelResolver",
    "ChannelResult",
    "Clock",
    "DeliveryAttempt",
    "DeliveryRecord",
    "DeliveryResult",
    "IdFactory",
    "LeasedNotification",
    "NoSuchRefund",
    "NotSent",
    "NotificationSender",
    "NotificationState",
    "NotificationStore",
    "OutcomeUnknown",
    "RefundEvent",
    "RefundStore",
    "Reservation",
    "StoreError",
    "Transition",
]


class StoreError(Exception):
    """The store failed; the operation that raised it changed nothing."""


class ChannelError(Exception):
    """A channel call that ended without an answer we can trust."""


class NotSent(ChannelError):
    """The request never reached the channel; sending it again is safe."""


class OutcomeUnknown(ChannelError):
    """The channel may have applied the request; query it with the same key."""


class NoSuchRefund(OutcomeUnknown):
    """The channel has no refund under this key: it never arrived, or failed
    before being kept. Sending it again (with the same key) is safe."""


class CallbackInvalid(ChannelError):
    """A callback that is not verifiably from the channel; it changes nothing."""


class ChannelResult(enum.Enum):
    SUCCEEDED = "SUCCEEDED"
    PROCESSING = "PROCESSING"
    FAILED = "FAILED"

    @property
    def status(self) -> RefundStatus:
        return RefundStatus[self.value]


@dataclass(frozen=True, slots=True)
class ChannelOutcome:
    """What a channel said of a refund: result, its refund id, its code."""

    result: ChannelResult
    channel_refund_id: str | None = None
    code: str | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class ChannelRefund:
    """What a connector needs to refund: the refund and the order it refunds."""

    refund: Refund
    order: PayOrder


class ChannelConnector(Protocol):
    """One channel's refund API. Our ``refund_order_id`` is the idempotency key."""

    async def refund(self, request: ChannelRefund) -> ChannelOutcome:
        """Ask for the refund; raise :class:`ChannelError` when the answer is unknown."""
        ...

    async def query(self, request: ChannelRefund) -> ChannelOutcome:
        """Ask what became of the refund; raise :class:`ChannelError` when unsure."""
        ...


@dataclass(frozen=True, slots=True)
class ChannelCallback:
    """A verified callback: which refund it is about, what it says, how to acknowledge.

    ``ack_body``/``ack_content_type`` are what the channel expects back once the
    outcome is applied (WeChat: an XML ``SUCCESS``; UnionPay: HTTP 200 ``ok``).
    """

    refund_order_id: str
    outcome: ChannelOutcome
    ack_body: bytes
    ack_content_type: str


class CallbackParser(Protocol):
    """A channel that reports outcomes by calling us back (WeChat, UnionPay)."""

    def parse_callback(self, body: bytes, content_type: str) -> ChannelCallback:
        """Verify and read a callback; raise :class:`CallbackInvalid` if untrusted."""
        ...

    def reject_callback(self) -> tuple[int, bytes, str]:
        """Status, body and content type answering a callback we refused."""
        ...


@dataclass(frozen=True, slots=True)
class Reservation:
    """The refund that a reservation created, or the stored one it replays."""

    refund: Refund
    order: PayOrder
    created: bool


@dataclass(frozen=True, slots=True)
class Transition:
    """A status change to apply to a refund, with what caused it (G6)."""

    target: RefundStatus
    at: int
    reason: str
    channel_refund_id: str | None = None
    err_code: str | None = None
    err_msg: str | None = None
    login_name: str | None = None
    detail: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


class NotificationState(enum.Enum):
    """Where an outbox row stands (PROTOCOL.md, "Refund notification")."""

    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    GAVE_UP = "GAVE_UP"


@dataclass(frozen=True, slots=True)
class LeasedNotification:
    """An outbox row that one worker holds until ``lease`` is recorded or expires.

    ``refund_status`` is the stored text, checked by the notifier: a row that
    cannot be read is recorded as a failed attempt, not a crash of the loop.
    """

    notification_id: int
    refund_order_id: str
    mch_id: str
    notify_url: str
    refund_status: str
    attempts: int
    lease: str


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What a merchant's endpoint answered, or why nothing was answered.

    ``body`` is an excerpt, bounded by the sender; ``error`` names a refused
    destination, a timeout or a connection failure (then ``status_code`` is None).
    """

    status_code: int | None
    body: str = ""
    error: str | None = None

    @property
    def acknowledged(self) -> bool:
        """A 2xx answer whose body is ``success`` (any case, surrounding whitespace ignored)."""
        ok = self.status_code is not None and 200 <= self.status_code < 300
        return ok and self.error is None and self.body.strip().lower() == "success"


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One delivery attempt, as the delivery log keeps it (no secret in it)."""

    notification_id: int
    attempt: int
    at: int
    url: str
    http_status: int | None
    response_excerpt: str | None
    error: str | None
    outcome: NotificationState


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """A delivery log line with the refund it was about, for operators."""

    refund_order_id: str
    mch_id: str
    attempt: DeliveryAttempt


@dataclass(frozen=True, slots=True)
class ChannelExchange:
    """One call to a channel as kept on record (G6): what was sent and what came back,
    with every secret masked by the connector that made it.

    ``request`` and ``answer`` are text as on the wire (for channels that send a
    form, its fields as a JSON object), cut at :data:`EXCHANGE_TEXT_LIMIT`
    characters. For a callback the channel made to us, ``request`` is what it
    sent and ``answer`` and ``status_code`` are our reply.
    """

    family: str
    operation: str
    at: int
    request: str
    status_code: int | None = None
    answer: str | None = None
    error: str | None = None


#: Longest request or answer text kept of one exchange; channels' answers are short.
EXCHANGE_TEXT_LIMIT = 8_000

#: The error a connector notes for a call its caller cut off (the gateway's deadline).
CUT_OFF = "cut off before an answer was read (the gateway's deadline, or its shutdown)"


class NotificationSender(Protocol):
    """Delivers one signed form to a merchant's ``notifyUrl``."""

    async def send(self, url: str, form: Mapping[str, str]) -> DeliveryResult:
        """POST ``form``; never raises for the merchant's failures (they are the result)."""
        ...

    async def aclose(self) -> None: ...


class NotificationStore(Protocol):
    """The notification outbox and its delivery log."""

    async def lease_notifications(
        self, now: int, *, limit: int, lease_ms: int, refund_order_id: str | None = None
    ) -> list[LeasedNotification]:
        """Take up to ``limit`` due PENDING rows for ``lease_ms``: no other worker gets
        them meanwhile (``FOR UPDATE SKIP LOCKED`` on PostgreSQL)."""
        ...

    async def record_delivery(
        self, attempt: DeliveryAttempt, *, lease: str, next_attempt_at: int
    ) -> bool:
        """Append ``attempt`` to the log and, if ``lease`` still holds the row, set its
        state (``attempt.outcome``), attempts and next attempt; whether it held."""
        ...

    async def reopen_notifications(self, refund_order_id: str, now: int) -> int:
        """Make the refund's notifications due at ``now`` with a fresh schedule; how many."""
        ...

    async def notification_deliveries(
        self, refund_order_id: str | None = None, *, limit: int = 100
    ) -> list[DeliveryRecord]:
        """The latest delivery log lines, newest first."""
        ...


class RefundStore(NotificationStore, Protocol):
    """Durable state of the refund path. Each method is one transaction."""

    async def access(self, mch_id: str, login_name: str | None) -> Access | None:
        """The merchant and operator, or None for an unknown merchant."""
        ...

    async def reserve(self, draft: RefundDraft) -> Reservation:
        """Replay a known refund number, or reserve the amount and insert the refund.

        Raises :class:`~refundgate.domain.RefundRefused` (nothing changed) when a
        rule forbids it; concurrent twins of one number get one refund between them.
        """
        ...

    async def transition(
        self, refund_order_id: str, change: Transition, *, known: Refund | None = None
    ) -> Refund:
        """Compare-and-set the refund's status, move balances, append the event and,
        on a final status, the outbox row. A change the state machine forbids (for
        example applying an outcome twice) changes nothing and returns the refund as
        it is.

        ``known``: this refund as the caller last had it. While the stored one is
        still in ``known.status``, the store may move it without reading it back
        and return ``known`` moved, which is what it would have read. If it has
        moved on, the store reads it as without ``known``.
        """
        ...

    async def find_refund(
        self, mch_id: str, *, mch_refund_no: str | None = None, refund_order_id: str | None = None
    ) -> Refund | None: ...

    async def get_order(self, mch_id: str, pay_order_id: str) -> PayOrder | None: ...

    async def ping(self) -> None:
        """Raise :class:`StoreError` unless the database answers."""
        ...

    async def close(self) -> None: ...

    async def get_refund(self, refund_order_id: str) -> Refund | None:
        """The refund with our id ``refund_order_id``, whoever's it is."""
        ...

    async def lease_due(
        self, now: int, *, limit: int, lease_ms: int, pending_grace_ms: int, first_check_ms: int
    ) -> list[Refund]:
        """Take up to ``limit`` PENDING and PROCESSING refunds due at ``now`` and push
        their ``next_check_at`` to ``now + lease_ms``, in one short transaction: no other
        worker gets them meanwhile (``FOR UPDATE SKIP LOCKED`` on PostgreSQL).

        A refund never scheduled is due ``pending_grace_ms`` after its creation
        (PENDING) or ``first_check_ms`` after its last change (PROCESSING).
        """
        ...

    async def schedule_check(self, refund_order_id: str, status: RefundStatus, at: int) -> bool:
        """Set the refund's next check to ``at`` if it is still ``status``; whether it was."""
        ...

    async def record_exchanges(
        self, refund_order_id: str, exchanges: Sequence[ChannelExchange]
    ) -> None:
        """Append the refund's channel calls to its record, durably, in one transaction."""
        ...


@dataclass(frozen=True, slots=True)
class ChannelAccount:
    """Upstream credentials of one channel family, for a merchant or the gateway.

    ``mch_id`` None is the gateway's default account, used by merchants that
    have none of their own. ``credentials`` is the JSON object of the
    connector's settings; it holds private keys, so it stays a :class:`Secret`.
    """

    mch_id: str | None
    family: ChannelFamily
    credentials: Secret
    updated_at: int


class ChannelAccounts(Protocol):
    """Where channel accounts are kept."""

    async def channel_accounts(self) -> list[ChannelAccount]:
        """Every account, merchants' and defaults, ordered by merchant then family."""
        ...

    async def channel_account(self, mch_id: str, family: ChannelFamily) -> ChannelAccount | None:
        """The merchant's own account for ``family``, else the default, else None."""
        ...

    async def set_channel_account(self, account: ChannelAccount) -> None:
        """Insert or replace the account; :class:`MerchantNotFound` for an unknown merchant."""
        ...


class AdminStore(RefundStore, ChannelAccounts, Protocol):
    """What the command line adds to the refund path's store."""

    async def migrate(self) -> None: ...

    async def add_merchant(self, merchant: Merchant, *, now: int) -> None: ...

    async def add_operator(self, operator: Operator, *, now: int) -> None: ...

    async def add_order(self, order: PayOrder) -> None: ...

    async def merchant_count(self) -> int: ...

    async def list_refunds(
        self, *, status: RefundStatus | None = None, mch_id: str | None = None, limit: int = 100
    ) -> list[Refund]:
        """Refunds, newest first, optionally of one status and one merchant."""
        ...

    async def refund_events(self, refund_order_id: str) -> list[RefundEvent]:
        """The refund's events, oldest first."""
        ...

    async def channel_exchanges(self, refund_order_id: str) -> list[ChannelExchange]:
        """The refund's channel calls, oldest first."""
        ...


@dataclass(frozen=True, slots=True)
class RefundEvent:
    """One line of a refund's history (G6): who, what, when."""

    at: int
    kind: str
    from_status: str | None
    to_status: str
    login_name: str | None
    client_ip: str | None
    reason: str
    detail: str | None


class Clock(Protocol):
    def now_ms(self) -> int:
        """Epoch milliseconds, UTC."""
        ...


class IdFactory(Protocol):
    def refund_order_id(self, now_ms: int) -> str:
        """A new refund id: unique, alphanumeric, at most 32 characters."""
        ...


#: The connector of each channel family.
ChannelRegistry = Mapping[ChannelFamily, ChannelConnector]


class ChannelResolver(Protocol):
    """Which connector refunds a merchant's orders of a family (its account's, or a default)."""

    async def connector(self, mch_id: str, family: ChannelFamily) -> ChannelConnector:
        """The connector for ``mch_id``; ValueError if its account cannot be used."""
        ...

    async def callback_parsers(
        self, family: ChannelFamily
    ) -> list[tuple[str | None, CallbackParser]]:
        """Every connector of ``family`` that may have sent a callback, with the
        merchant whose account it is (None: the gateway's default account)."""
        ...

    async def aclose(self) -> None:
        """Close the connectors' HTTP clients (at shutdown)."""
        ...
