"""Notification settings: private destinations refused unless the deployment says so."""

from __future__ import annotations

import pytest

from refundgate.config import Settings
from refundgate.notify import build_sender
from tests.notify.support import Receiver


def test_by_default_private_destinations_are_refused_and_the_deadline_is_short() -> None:
    settings = Settings.from_mapping({})
    assert settings.notify_allow_private is False
    assert settings.notify_timeout_s == 5.0


@pytest.mark.parametrize(("text", "allowed"), [("true", True), ("1", True), ("false", False)])
def test_private_destinations_may_be_allowed(text: str, allowed: bool) -> None:
    settings = Settings.from_mapping({"REFUNDGATE_NOTIFY_ALLOW_PRIVATE": text})
    assert settings.notify_allow_private is allowed
    again = Settings.from_mapping(settings.to_environment())
    assert again.notify_allow_private is allowed


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("REFUNDGATE_NOTIFY_ALLOW_PRIVATE", "maybe"),
        ("REFUNDGATE_NOTIFY_TIMEOUT", "0"),
        ("REFUNDGATE_NOTIFY_TIMEOUT", "61"),
        ("REFUNDGATE_NOTIFY_TIMEOUT", "soon"),
    ],
)
def test_bad_values_are_refused_by_name(name: str, text: str) -> None:
    with pytest.raises(ValueError, match=name):
        Settings.from_mapping({name: text})


async def test_the_configured_sender_refuses_loopback_unless_allowed(receiver: Receiver) -> None:
    form = {"refundOrderId": "R1"}
    refusing = build_sender(1.0, allow_private=False)
    sandbox = build_sender(1.0, allow_private=False, allow_loopback=True)
    private = build_sender(1.0, allow_private=True)
    try:
        assert "loopback" in str((await refusing.send(receiver.url, form)).error)
        assert (await sandbox.send(receiver.url, form)).acknowledged
        assert (await private.send(receiver.url, form)).acknowledged
    finally:
        for sender in (refusing, sandbox, private):
            await sender.aclose()
    assert len(receiver.received) == 2
