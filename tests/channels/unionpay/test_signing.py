"""signMethod=01 signatures and the signPubKeyCert checks (channels.md §D.4)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from refundgate.channels.unionpay import signing
from refundgate.domain.secret import Secret
from refundgate.sandbox.unionpay.pki import SandboxPki, issue

# The fields of the illustration in channels.md §D.4, and its recorded digest.
VECTOR = {
    "accessType": "0",
    "backUrl": "https://m.example/notify",
    "bizType": "000201",
    "certId": "69629715588",
    "channelType": "07",
    "currencyCode": "156",
    "encoding": "UTF-8",
    "merId": "777290058110048",
    "orderId": "RF20240101000001",
    "origQryId": "871803200930040336758",
    "signMethod": "01",
    "txnAmt": "100",
    "txnSubType": "00",
    "txnTime": "20240101120000",
    "txnType": "04",
    "version": "5.1.0",
}
VECTOR_DIGEST = b"37c317acc2c76784ad93649bb05ccd53cd7fa5b33202b5feb2c01e026159d6ab"


def trust(pki: SandboxPki, identity: str = "00040000:SIGN") -> signing.SignerTrust:
    return signing.SignerTrust.from_bundle(pki.verify_bundle_pem, identities={identity})


NOW = datetime.now(UTC)


def test_the_digest_of_the_documented_example_matches():
    assert signing.digest_hex(VECTOR) == VECTOR_DIGEST


def test_signing_string_sorts_and_drops_signature_and_empty_values():
    fields = {"b": "2", "a": "1", "signature": "xx", "reserved": ""}
    assert signing.signing_string(fields) == "a=1&b=2"


def test_a_signature_verifies_with_the_signers_key(pki: SandboxPki):
    fields = {**VECTOR, "signature": signing.sign(VECTOR, pki.merchant.key)}
    assert signing.verify(fields, pki.merchant.key.public_key())


def test_rsa_signs_the_hex_digest_not_the_string(pki: SandboxPki):
    # Two hash steps (§D.4): SHA256withRSA over the 64 hex characters.
    signature = base64.b64decode(signing.sign(VECTOR, pki.merchant.key))
    public = pki.merchant.key.public_key()
    public.verify(signature, VECTOR_DIGEST, padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.parametrize("field", sorted(VECTOR))
def test_changing_one_byte_of_any_field_breaks_the_signature(pki: SandboxPki, field: str):
    fields = {**VECTOR, "signature": signing.sign(VECTOR, pki.merchant.key)}
    value = fields[field]
    fields[field] = value[:-1] + ("1" if value[-1] != "1" else "2")
    assert not signing.verify(fields, pki.merchant.key.public_key())


@pytest.mark.parametrize("signature", ["", "not base64!", "AAAA", None])
def test_a_missing_or_malformed_signature_does_not_verify(pki: SandboxPki, signature):
    fields = dict(VECTOR)
    if signature is not None:
        fields["signature"] = signature
    assert not signing.verify(fields, pki.merchant.key.public_key())


def test_another_keys_signature_does_not_verify(pki: SandboxPki):
    fields = {**VECTOR, "signature": signing.sign(VECTOR, pki.unionpay.key)}
    assert not signing.verify(fields, pki.merchant.key.public_key())


def test_cert_id_is_the_serial_in_decimal(pki: SandboxPki):
    assert signing.cert_id(pki.merchant.cert) == str(pki.merchant.cert.serial_number)
    assert signing.cert_id(pki.merchant.cert).isdigit()


def test_a_certificate_chained_to_the_root_is_trusted(pki: SandboxPki):
    key = signing.trusted_signer_key(pki.unionpay.cert_pem, trust(pki), at=NOW)
    assert key.public_numbers() == pki.unionpay.key.public_key().public_numbers()


def test_a_certificate_from_another_root_is_refused(pki: SandboxPki, stranger: SandboxPki):
    with pytest.raises(signing.UntrustedCertificate, match="chain"):
        signing.trusted_signer_key(stranger.unionpay.cert_pem, trust(pki), at=NOW)


def test_a_self_signed_certificate_with_the_right_name_is_refused(pki: SandboxPki):
    forged = issue("041@sandbox@00040000:SIGN@00000001", key=pki.unionpay.key)
    with pytest.raises(signing.UntrustedCertificate):
        signing.trusted_signer_key(forged.cert_pem, trust(pki), at=NOW)


def test_without_the_intermediate_the_chain_is_refused(pki: SandboxPki):
    roots_only = signing.SignerTrust((pki.root.cert,), (), frozenset({"00040000:SIGN"}))
    with pytest.raises(signing.UntrustedCertificate):
        signing.trusted_signer_key(pki.unionpay.cert_pem, roots_only, at=NOW)


def test_a_certificate_outside_its_dates_is_refused(pki: SandboxPki):
    expired = issue(
        "041@sandbox@00040000:SIGN@00000002",
        issuer=pki.middle,
        not_before=NOW - timedelta(days=30),
        validity=timedelta(days=10),
    )
    with pytest.raises(signing.UntrustedCertificate):
        signing.trusted_signer_key(expired.cert_pem, trust(pki), at=NOW)
    with pytest.raises(signing.UntrustedCertificate):
        signing.trusted_signer_key(pki.unionpay.cert_pem, trust(pki), at=NOW + timedelta(days=4000))


def test_the_merchants_own_certificate_is_not_unionpays(pki: SandboxPki):
    # Chained to the same root, but its CN names the merchant, not UnionPay.
    with pytest.raises(signing.UntrustedCertificate, match="identity"):
        signing.trusted_signer_key(pki.merchant.cert_pem, trust(pki), at=NOW)


def test_production_trust_refuses_the_test_identity(pki: SandboxPki):
    production = signing.SignerTrust.from_bundle(pki.verify_bundle_pem)
    with pytest.raises(signing.UntrustedCertificate, match="identity"):
        signing.trusted_signer_key(pki.unionpay.cert_pem, production, at=NOW)


def test_identity_is_the_third_part_of_the_cn(pki: SandboxPki):
    assert signing.identity_of(pki.unionpay.cert) == "00040000:SIGN"
    assert signing.identity_of(pki.root.cert) is None


@pytest.mark.parametrize(
    "pem", ["", "garbage", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "é"]
)
def test_an_unreadable_certificate_is_refused(pki: SandboxPki, pem: str):
    with pytest.raises(signing.UntrustedCertificate, match="unreadable"):
        signing.trusted_signer_key(pem, trust(pki), at=NOW)


def test_a_bundle_without_a_root_is_refused(pki: SandboxPki):
    with pytest.raises(ValueError, match="root"):
        signing.SignerTrust.from_bundle(pki.middle.cert_pem)


def test_the_key_is_only_read_from_a_secret(pki: SandboxPki):
    key = signing.load_signing_key(Secret(pki.merchant.key_pem))
    assert key.public_key().public_numbers() == pki.merchant.key.public_key().public_numbers()
