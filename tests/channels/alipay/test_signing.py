"""RSA2 signing (channels.md §C.5), checked against an independent implementation."""

from __future__ import annotations

import base64

import pytest
from Cryptodome.Hash import SHA256
from Cryptodome.PublicKey import RSA
from Cryptodome.Signature import PKCS1_v1_5
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from refundgate.channels.alipay.signing import (
    content_to_sign,
    load_private_key,
    load_public_key,
    sign_content,
    verify_content,
)
from tests.channels.alipay.support import KeyPair

#: The example of §C.5, as parameters and as the string they sign.
EXAMPLE = {
    "app_id": "2014072300007148",
    "method": "alipay.trade.refund",
    "format": "JSON",
    "charset": "utf-8",
    "sign_type": "RSA2",
    "timestamp": "2014-07-24 03:07:50",
    "version": "1.0",
    "biz_content": '{"out_trade_no":"20150320010101001","refund_amount":"200.12",'
    '"out_request_no":"HZ01RF001"}',
}
EXAMPLE_STRING = (
    "app_id=2014072300007148&biz_content={\"out_trade_no\":\"20150320010101001\","
    "\"refund_amount\":\"200.12\",\"out_request_no\":\"HZ01RF001\"}&charset=utf-8"
    "&format=JSON&method=alipay.trade.refund&sign_type=RSA2&timestamp=2014-07-24 03:07:50"
    "&version=1.0"
)  # fmt: skip


def test_the_content_string_of_the_documented_example() -> None:
    assert content_to_sign(EXAMPLE) == EXAMPLE_STRING


def test_the_content_string_leaves_out_sign_and_empty_values_but_keeps_sign_type() -> None:
    params = {**EXAMPLE, "sign": "xyz", "app_auth_token": "", "notify_url": ""}

    assert content_to_sign(params) == EXAMPLE_STRING
    assert "sign_type=RSA2" in content_to_sign(params)


def test_the_content_string_sorts_by_ascii_not_by_case() -> None:
    assert content_to_sign({"b": "1", "B": "2", "a_b": "3", "a": "4"}) == "B=2&a=4&a_b=3&b=1"


def test_a_signature_matches_pycryptodome_byte_for_byte(app_keys: KeyPair) -> None:
    """PKCS#1 v1.5 is deterministic: an independent library must agree exactly."""
    theirs = PKCS1_v1_5.new(RSA.import_key(app_keys.private_pem)).sign(
        SHA256.new(EXAMPLE_STRING.encode())
    )

    ours = sign_content(EXAMPLE_STRING, load_private_key(app_keys.private_pem))

    assert base64.b64decode(ours) == theirs


def test_non_ascii_content_is_signed_as_utf8(app_keys: KeyPair) -> None:
    text = 'biz_content={"refund_reason":"退款 – 顾客"}'
    ours = sign_content(text, load_private_key(app_keys.private_pem))

    assert ours == app_keys.sign(text)


def test_a_signature_verifies_with_the_public_key(app_keys: KeyPair) -> None:
    signature = app_keys.sign(EXAMPLE_STRING)

    assert verify_content(EXAMPLE_STRING, signature, load_public_key(app_keys.public_pem))


@pytest.mark.parametrize("position", [0, 1, 57, 100, len(EXAMPLE_STRING) - 1])
def test_one_changed_byte_of_the_content_is_caught(app_keys: KeyPair, position: int) -> None:
    signature = app_keys.sign(EXAMPLE_STRING)
    changed = chr(ord(EXAMPLE_STRING[position]) ^ 1)
    tampered = EXAMPLE_STRING[:position] + changed + EXAMPLE_STRING[position + 1 :]

    assert not verify_content(tampered, signature, load_public_key(app_keys.public_pem))


@pytest.mark.parametrize("position", [0, 10, 200, 340])
def test_one_changed_byte_of_the_signature_is_caught(app_keys: KeyPair, position: int) -> None:
    raw = bytearray(base64.b64decode(app_keys.sign(EXAMPLE_STRING)))
    raw[position % len(raw)] ^= 0x01
    tampered = base64.b64encode(bytes(raw)).decode()

    assert not verify_content(EXAMPLE_STRING, tampered, load_public_key(app_keys.public_pem))


@pytest.mark.parametrize("signature", ["", "not base64!", "QUJD", "é", "QUJD\n"])
def test_garbage_signatures_do_not_verify(app_keys: KeyPair, signature: str) -> None:
    assert not verify_content(EXAMPLE_STRING, signature, load_public_key(app_keys.public_pem))


def test_another_key_does_not_verify(app_keys: KeyPair, stranger_keys: KeyPair) -> None:
    signature = stranger_keys.sign(EXAMPLE_STRING)

    assert not verify_content(EXAMPLE_STRING, signature, load_public_key(app_keys.public_pem))


def test_private_keys_load_from_every_form_alipay_hands_out(app_keys: KeyPair) -> None:
    forms = [
        app_keys.private_pem,
        app_keys.private_pkcs1_pem,
        app_keys.private_bare,
        "\n".join(app_keys.private_bare[i : i + 64] for i in range(0, 2000, 64)),
        base64.b64encode(
            app_keys.private.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        ).decode(),
    ]
    expected = app_keys.private.private_numbers()

    for form in forms:
        assert load_private_key(form).private_numbers() == expected


def test_public_keys_load_from_pem_and_bare_base64(app_keys: KeyPair) -> None:
    pkcs1 = (
        app_keys.private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
        .decode()
    )
    expected = app_keys.private.public_key().public_numbers()

    for form in (app_keys.public_pem, app_keys.public_bare, pkcs1):
        assert load_public_key(form).public_numbers() == expected


def _ec_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.mark.parametrize(
    "text", ["", "garbage", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "ключ"]
)
def test_unreadable_private_keys_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="unreadable private key"):
        load_private_key(text)


def test_a_non_rsa_or_short_key_is_refused(app_keys: KeyPair) -> None:
    short = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    short_pem = short.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()

    with pytest.raises(ValueError, match="RSA private key"):
        load_private_key(_ec_pem())
    with pytest.raises(ValueError, match="2048 bits"):
        load_private_key(short_pem)
    with pytest.raises(ValueError, match="unreadable public key"):
        load_public_key(app_keys.private_pem)


def test_a_refused_key_is_not_echoed_in_the_error(app_keys: KeyPair) -> None:
    broken = app_keys.private_bare[:-40] + "!!!!"

    with pytest.raises(ValueError, match="unreadable") as caught:
        load_private_key(broken)

    assert app_keys.private_bare[:40] not in str(caught.value)
    assert app_keys.private_bare[:40] not in repr(caught.value.__cause__)
