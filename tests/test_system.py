"""The real id factory: the format every channel takes, and the time it carries."""

from __future__ import annotations

import re

from refundgate.system import RandomIds

NEW_YEAR_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def test_an_id_is_r_then_the_utc_second_then_48_random_bits() -> None:
    ids = RandomIds()
    value = ids.refund_order_id(NEW_YEAR_MS - 1)
    assert re.fullmatch(r"R20251231235959[0-9A-F]{12}", value), value
    assert len(value) == 27


def test_the_time_part_follows_the_clock_from_one_second_to_the_next() -> None:
    ids = RandomIds()
    stamps = [
        ids.refund_order_id(at)[1:15]
        for at in (NEW_YEAR_MS - 1, NEW_YEAR_MS, NEW_YEAR_MS + 999, NEW_YEAR_MS + 1_000)
    ]
    assert stamps == ["20251231235959", "20260101000000", "20260101000000", "20260101000001"]


def test_ids_made_in_the_same_millisecond_differ() -> None:
    ids = RandomIds()
    assert len({ids.refund_order_id(NEW_YEAR_MS) for _ in range(10_000)}) == 10_000
