"""The benchmark's bodies are requests the gateway accepts, each with its own number."""

from __future__ import annotations

from pathlib import Path

from bench.common import KEY, write_bodies

from refundgate.protocol import decode_request, validate_refund, verify


def test_every_body_decodes_verifies_and_has_its_own_refund_number(tmp_path: Path) -> None:
    path = tmp_path / "bodies.txt"

    write_bodies(path, 50, tag="t", orders=10)

    numbers = set()
    for line in path.read_text().splitlines():
        fields = decode_request(line.encode(), "application/x-www-form-urlencoded")
        params = validate_refund(fields)
        assert verify(fields, params.sign, [KEY])
        numbers.add(params.mch_refund_no)
    assert len(numbers) == 50


def test_bodies_are_the_same_for_the_same_tag(tmp_path: Path) -> None:
    write_bodies(tmp_path / "a", 5, tag="x", orders=10)
    write_bodies(tmp_path / "b", 5, tag="x", orders=10)

    assert (tmp_path / "a").read_text() == (tmp_path / "b").read_text()
