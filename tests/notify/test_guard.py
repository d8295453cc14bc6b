"""The SSRF guard refuses every non-public address class, on the resolved address."""

from __future__ import annotations

import ipaddress

import pytest

from refundgate.notify.guard import PRIVATE_CLASSES, DestinationRefused, Guard, address_class


def resolving(*answers: str) -> object:
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return list(answers)

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


REFUSED = [
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("127.0.0.1", "loopback"),
    ("127.8.8.8", "loopback"),
    ("::1", "loopback"),
    ("169.254.1.1", "link-local"),
    ("fe80::1", "link-local"),
    ("fc00::1", "unique-local"),
    ("fd12:3456::1", "unique-local"),
    ("100.64.0.1", "shared"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("169.254.169.254", "metadata"),
    ("fd00:ec2::254", "metadata"),
    ("::ffff:127.0.0.1", "loopback"),
    ("240.0.0.1", "reserved"),
]


@pytest.mark.parametrize(("address", "kind"), REFUSED)
def test_each_non_public_address_has_its_class(address: str, kind: str) -> None:
    assert address_class(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize(("address", "kind"), REFUSED)
async def test_each_non_public_address_is_refused_by_default(address: str, kind: str) -> None:
    guard = Guard(resolver=resolving(address))  # type: ignore[arg-type]
    with pytest.raises(DestinationRefused, match=kind):
        await guard.check("https", "merchant.example", 443)


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700:4700::1111", "1.1.1.1"])
async def test_public_addresses_pass_and_are_what_to_connect_to(address: str) -> None:
    guard = Guard(resolver=resolving(address))  # type: ignore[arg-type]
    target = await guard.check("https", "merchant.example", 443)
    assert target.address == address
    assert target.host == "merchant.example"


async def test_a_hostname_resolving_to_loopback_is_refused_unless_allowed() -> None:
    with pytest.raises(DestinationRefused, match="loopback"):
        await Guard().check("http", "localhost", 80)
    allowed = await Guard(allowed=frozenset({"loopback"})).check("http", "localhost", 80)
    assert ipaddress.ip_address(allowed.address).is_loopback


async def test_one_private_answer_among_public_ones_refuses_the_host() -> None:
    guard = Guard(resolver=resolving("8.8.8.8", "10.0.0.1"))  # type: ignore[arg-type]
    with pytest.raises(DestinationRefused, match="private"):
        await guard.check("https", "merchant.example", 443)


@pytest.mark.parametrize("address", ["10.0.0.1", "127.0.0.1", "169.254.10.10", "fd12::1"])
async def test_a_deployment_may_allow_private_destinations(address: str) -> None:
    guard = Guard(allowed=PRIVATE_CLASSES, resolver=resolving(address))  # type: ignore[arg-type]
    assert (await guard.check("http", "m.internal", 80)).address == address


@pytest.mark.parametrize("address", ["169.254.169.254", "fd00:ec2::254", "224.0.0.1", "0.0.0.0"])
async def test_metadata_multicast_and_unspecified_stay_refused_even_when_private_is_allowed(
    address: str,
) -> None:
    guard = Guard(allowed=PRIVATE_CLASSES, resolver=resolving(address))  # type: ignore[arg-type]
    with pytest.raises(DestinationRefused):
        await guard.check("http", "m.internal", 80)


@pytest.mark.parametrize("scheme", ["ftp", "file", "gopher", ""])
async def test_schemes_other_than_http_and_https_are_refused(scheme: str) -> None:
    resolver = resolving("8.8.8.8")
    with pytest.raises(DestinationRefused, match="scheme"):
        await Guard(resolver=resolver).check(scheme, "merchant.example", 21)  # type: ignore[arg-type]
    assert resolver.calls == []  # type: ignore[attr-defined]


async def test_an_unresolvable_host_is_refused() -> None:
    async def fail(host: str, port: int) -> list[str]:
        raise OSError("no such host")

    with pytest.raises(DestinationRefused, match="cannot resolve"):
        await Guard(resolver=fail).check("https", "nowhere.invalid", 443)
