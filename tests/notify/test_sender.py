"""The HTTP sender against a real receiver on loopback."""

from __future__ import annotations

from urllib.parse import parse_qsl

import httpx
import pytest

from refundgate.notify import Guard, HttpNotificationSender
from refundgate.notify.sender import BODY_LIMIT
from tests.notify.support import Receiver, free_port

FORM = {"refundOrderId": "R1", "status": "2", "sign": "ABC"}
LOOPBACK = frozenset({"loopback"})


def sender(
    *, allowed: frozenset[str] = LOOPBACK, timeout_s: float = 2.0, resolver: object = None
) -> HttpNotificationSender:
    return HttpNotificationSender(
        guard=Guard(allowed=allowed, resolver=resolver),  # type: ignore[arg-type]
        timeout_s=timeout_s,
    )


async def send(receiver: Receiver, **options: object) -> object:
    notifier = sender(**options)  # type: ignore[arg-type]
    try:
        return await notifier.send(receiver.url, FORM)
    finally:
        await notifier.aclose()


async def test_the_form_is_posted_and_success_acknowledges(receiver: Receiver) -> None:
    result = await send(receiver)
    assert result.acknowledged  # type: ignore[attr-defined]
    [got] = receiver.received
    assert got.headers["content-type"] == "application/x-www-form-urlencoded"
    assert dict(parse_qsl(got.body.decode())) == FORM


@pytest.mark.parametrize("body", ["SUCCESS", "  Success\r\n", "\tsuccess "])
async def test_success_in_any_case_with_surrounding_whitespace_acknowledges(
    receiver: Receiver, body: str
) -> None:
    receiver.script.append((200, body))
    assert (await send(receiver)).acknowledged  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "reply", [(200, "ok"), (200, "success!"), (200, ""), (500, "success"), (404, "not found")]
)
async def test_anything_else_is_not_an_acknowledgement(
    receiver: Receiver, reply: tuple[int, str]
) -> None:
    receiver.script.append(reply)
    result = await send(receiver)
    assert not result.acknowledged  # type: ignore[attr-defined]
    assert result.status_code == reply[0]  # type: ignore[attr-defined]


async def test_loopback_is_refused_unless_allowed_and_nothing_is_sent(receiver: Receiver) -> None:
    result = await send(receiver, allowed=frozenset())
    assert not result.acknowledged  # type: ignore[attr-defined]
    assert "destination refused" in result.error  # type: ignore[attr-defined,operator]
    assert "loopback" in result.error  # type: ignore[attr-defined,operator]
    assert receiver.received == []


async def test_a_redirect_is_not_followed(receiver: Receiver) -> None:
    receiver.script.append("redirect")
    result = await send(receiver)
    assert result.status_code == 302  # type: ignore[attr-defined]
    assert not result.acknowledged  # type: ignore[attr-defined]
    assert [got.path for got in receiver.received] == ["/notify"]


async def test_a_slow_merchant_times_out(receiver: Receiver) -> None:
    receiver.script.append("slow")
    receiver.slow_s = 0.5
    result = await send(receiver, timeout_s=0.1)
    assert not result.acknowledged  # type: ignore[attr-defined]
    assert "timeout" in result.error  # type: ignore[attr-defined,operator]


async def test_a_refused_connection_is_an_error_not_an_exception() -> None:
    notifier = sender()
    try:
        result = await notifier.send(f"http://127.0.0.1:{free_port()}/notify", FORM)
    finally:
        await notifier.aclose()
    assert result.status_code is None
    assert result.error


async def test_the_answer_is_read_only_up_to_the_limit(receiver: Receiver) -> None:
    receiver.script.append((200, "x" * 100_000))
    result = await send(receiver)
    assert len(result.body) == BODY_LIMIT  # type: ignore[attr-defined]


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/notify", "file:///etc/passwd", "not a url"])
async def test_other_schemes_are_refused(url: str) -> None:
    notifier = sender()
    try:
        result = await notifier.send(url, FORM)
    finally:
        await notifier.aclose()
    assert not result.acknowledged
    assert result.error


async def test_the_checked_address_is_connected_to_with_the_host_header_kept(
    receiver: Receiver,
) -> None:
    """DNS rebinding: one resolution, and the connection goes to its answer."""
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"] if len(calls) == 1 else ["10.9.9.9"]  # a rebinding DNS

    notifier = sender(resolver=resolve)
    try:
        result = await notifier.send(f"http://merchant.example:{receiver.port}/notify", FORM)
    finally:
        await notifier.aclose()
    assert result.acknowledged
    assert calls == ["merchant.example"]
    assert receiver.received[0].headers["host"] == f"merchant.example:{receiver.port}"


class RecordingTransport(httpx.AsyncBaseTransport):
    """Stands for the network: records what would be sent where."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, text="success")


async def test_https_connects_to_the_checked_address_with_the_host_name_for_tls() -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return ["93.184.216.34"]

    network = RecordingTransport()
    notifier = HttpNotificationSender(guard=Guard(resolver=resolve), transport=network)
    try:
        result = await notifier.send("https://merchant.example/refunds/notify", FORM)
    finally:
        await notifier.aclose()
    assert result.acknowledged
    [sent] = network.requests
    assert str(sent.url) == "https://93.184.216.34/refunds/notify"
    assert sent.headers["host"] == "merchant.example"
    assert sent.extensions["sni_hostname"] == "merchant.example"  # SNI and certificate check


async def test_ipv6_destinations_are_pinned_too() -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return ["2606:4700:4700::1111"]

    network = RecordingTransport()
    notifier = HttpNotificationSender(guard=Guard(resolver=resolve), transport=network)
    try:
        await notifier.send("http://merchant.example:8080/n", FORM)
    finally:
        await notifier.aclose()
    assert str(network.requests[0].url) == "http://[2606:4700:4700::1111]:8080/n"
    assert network.requests[0].headers["host"] == "merchant.example:8080"
