"""The simulator's own reading of WeChat v2 messages: XML, ``sign``, ``req_info``.

Written from channels.md §A.4 and §A.7 independently of the connector, so
that a mistake on one side is caught by the other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from xml.etree.ElementTree import ParseError

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# defusedxml ships no type information.
from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]

__all__ = ["BadXml", "encrypt_req_info", "parse", "render", "signature", "signature_ok"]

SIGN_TYPES = ("MD5", "HMAC-SHA256")


class BadXml(Exception):
    pass


def parse(body: bytes) -> dict[str, str]:
    """A flat ``<xml>`` document's fields; DTDs and entities are refused."""
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise BadXml(type(exc).__name__) from exc
    if root.tag != "xml" or any(len(child) for child in root):
        raise BadXml("not a flat <xml> document")
    result: dict[str, str] = {}
    for child in root:
        if child.tag in result:
            raise BadXml(f"{child.tag} repeated")
        result[child.tag] = child.text or ""
    return result


def render(fields: Mapping[str, str], root: str = "xml") -> bytes:
    """WeChat's style: numbers bare, text in CDATA."""
    body = "".join(
        f"<{k}>{v}</{k}>" if v.isascii() and v.isdigit() else f"<{k}><![CDATA[{v}]]></{k}>"
        for k, v in fields.items()
    )
    return f"<{root}>{body}</{root}>".encode()


def signature(fields: Mapping[str, str], key: str, sign_type: str = "MD5") -> str:
    pairs = sorted((k, v) for k, v in fields.items() if k != "sign" and v)
    payload = ("&".join(f"{k}={v}" for k, v in pairs) + "&key=" + key).encode("utf-8")
    if sign_type == "HMAC-SHA256":
        return hmac.new(key.encode("utf-8"), payload, "sha256").hexdigest().upper()
    return hashlib.new("md5", payload, usedforsecurity=False).hexdigest().upper()


def signature_ok(fields: Mapping[str, str], key: str, sign_type: str) -> bool:
    expected = signature(fields, key, sign_type)
    return hmac.compare_digest(expected, fields.get("sign", ""))


def encrypt_req_info(plaintext: bytes, key: str) -> str:
    """``req_info``: AES-256-ECB under the hex MD5 of the key, PKCS#7, base64."""
    aes_key = hashlib.new("md5", key.encode("utf-8"), usedforsecurity=False).hexdigest()
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(aes_key.encode("ascii")), modes.ECB()).encryptor()  # noqa: S305 - WeChat's scheme
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode("ascii")
