"""Merchants, their signing keys, and their operators."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from refundgate.domain.errors import MerchantDisabled, OperatorNotAllowed
from refundgate.domain.secret import Secret

__all__ = ["Access", "Merchant", "MerchantStatus", "Operator"]


class MerchantStatus(enum.Enum):
    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"


@dataclass(frozen=True, slots=True)
class Merchant:
    """A merchant: who signs requests, and with which keys."""

    mch_id: str
    key: Secret
    name: str = ""
    status: MerchantStatus = MerchantStatus.ACTIVE
    previous_key: Secret | None = None
    previous_key_expires_at: int | None = None
    notify_url: str | None = None

    def verifying_keys(self, now: int) -> list[str]:
        """Keys a request may be signed with: current, then previous until it expires."""
        keys = [self.key.reveal()]
        expires = self.previous_key_expires_at
        if self.previous_key is not None and (expires is None or now < expires):
            keys.append(self.previous_key.reveal())
        return keys

    def check_enabled(self) -> None:
        if self.status is not MerchantStatus.ACTIVE:
            raise MerchantDisabled(self.mch_id)


@dataclass(frozen=True, slots=True)
class Operator:
    """A login name of a merchant (the ``loginName`` of a request)."""

    mch_id: str
    login_name: str
    may_refund: bool = True
    active: bool = True

    def check_may_refund(self) -> None:
        if not (self.may_refund and self.active):
            raise OperatorNotAllowed(self.login_name)


@dataclass(frozen=True, slots=True)
class Access:
    """A merchant and, when it exists, the operator named by a request.

    A refund authorized against it is reserved only while the stored rows
    still grant what it grants (:meth:`still_holds`): a key rotated or
    revoked, a merchant disabled or an operator stripped of the right after
    the check counts at once.
    """

    merchant: Merchant
    operator: Operator | None

    def still_holds(self, current: Access) -> bool:
        """Whether ``current`` (as stored now) grants what this granted."""
        was, now = self.merchant, current.merchant
        return (
            now.key == was.key
            and now.status is was.status
            and now.previous_key == was.previous_key
            and now.previous_key_expires_at == was.previous_key_expires_at
            and _grants(current.operator) == _grants(self.operator)
        )


def _grants(operator: Operator | None) -> tuple[bool, bool] | None:
    return None if operator is None else (operator.may_refund, operator.active)
