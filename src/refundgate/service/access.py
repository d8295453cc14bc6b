"""The merchants and operators this process has recently read, for refunds.

A refund request is authorized against a cached copy, and its reservation
then checks, inside its own write, that the stored rows still grant what the
copy did (``RefundDraft.authority``): a key rotated, a merchant disabled or an
operator stripped of the right after the copy was taken counts at once, and
nothing is reserved under it. So a refund costs no separate read of its
merchant (on PostgreSQL a round trip: three per refund became two).
"""

from __future__ import annotations

from refundgate.ports import Access

__all__ = ["AccessCache"]

_Key = tuple[str, str | None]


class AccessCache:
    """At most ``size`` entries by merchant and login name; the oldest goes first."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._entries: dict[_Key, Access] = {}

    def get(self, mch_id: str, login_name: str | None) -> Access | None:
        return self._entries.get((mch_id, login_name))

    def put(self, mch_id: str, login_name: str | None, access: Access) -> None:
        key = (mch_id, login_name)
        self._entries.pop(key, None)
        if len(self._entries) >= self._size:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = access

    def forget(self, mch_id: str, login_name: str | None) -> None:
        self._entries.pop((mch_id, login_name), None)

    def __len__(self) -> int:
        return len(self._entries)
