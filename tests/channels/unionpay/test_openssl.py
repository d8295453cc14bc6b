"""The openssl command line as the independent UnionPay client (no maintained SDK exists).

openssl signs a request over the hex SHA-256 of its sorted string (§D.4) and the
simulator accepts it; openssl verifies the simulator's answer signature and
chains its ``signPubKeyCert`` to the root and intermediate; one changed byte
fails each of them.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from refundgate.sandbox.unionpay import REFUND_PATH, SandboxPki, UnionPaySimulator
from tests.channels.unionpay.conftest import MER_ID, SharedClock, sim_config

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")

BEIJING = timezone(timedelta(hours=8))


def openssl(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, check=False)


def sorted_string(fields: dict[str, str]) -> bytes:
    kept = sorted((k, v) for k, v in fields.items() if k != "signature" and v)
    return "&".join(f"{k}={v}" for k, v in kept).encode()


def hex_digest_file(fields: dict[str, str], tmp: Path) -> Path:
    """The 64 hex characters openssl itself computes for the sorted string."""
    (tmp / "string.txt").write_bytes(sorted_string(fields))
    out = openssl("dgst", "-sha256", "-r", tmp / "string.txt")
    assert out.returncode == 0, out.stderr
    digest = tmp / "digest.txt"
    digest.write_bytes(out.stdout.split()[0])
    return digest


def openssl_sign(fields: dict[str, str], key_pem: str, tmp: Path) -> str:
    (tmp / "key.pem").write_text(key_pem)
    digest = hex_digest_file(fields, tmp)
    out = openssl("dgst", "-sha256", "-sign", tmp / "key.pem", "-out", tmp / "sig.bin", digest)
    assert out.returncode == 0, out.stderr
    return base64.b64encode((tmp / "sig.bin").read_bytes()).decode()


def openssl_verifies(fields: dict[str, str], tmp: Path) -> bool:
    (tmp / "signer.pem").write_text(fields["signPubKeyCert"])
    pub = openssl("x509", "-pubkey", "-noout", "-in", tmp / "signer.pem")
    (tmp / "pub.pem").write_bytes(pub.stdout)
    (tmp / "answer.sig").write_bytes(base64.b64decode(fields["signature"]))
    digest = hex_digest_file(fields, tmp)
    out = openssl("dgst", "-sha256", "-verify", tmp / "pub.pem", "-signature",
                  tmp / "answer.sig", digest)  # fmt: skip
    return out.returncode == 0 and b"Verified OK" in out.stdout


def openssl_chains(cert_pem: str, root_pem: str, middle_pem: str, tmp: Path) -> bool:
    for name, pem in (("leaf.pem", cert_pem), ("root.pem", root_pem), ("mid.pem", middle_pem)):
        (tmp / name).write_text(pem)
    out = openssl("verify", "-CAfile", tmp / "root.pem", "-untrusted", tmp / "mid.pem",
                  tmp / "leaf.pem")  # fmt: skip
    return out.returncode == 0


def read_answer(text: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in text.split("&"))


@dataclass
class Peer:
    """The simulator, a client to it, and the queryId of a paid trade."""

    sim: UnionPaySimulator
    http: httpx.AsyncClient
    trade: str


@pytest.fixture
async def client(pki: SandboxPki) -> AsyncIterator[Peer]:
    sim = UnionPaySimulator(pki=pki, clock=SharedClock(datetime.now(UTC)), config=sim_config())
    transport = httpx.ASGITransport(app=sim.sim)
    async with httpx.AsyncClient(transport=transport, base_url="http://up.test/unionpay") as c:
        response = await c.post("/_control/trades", json={"out_trade_no": "T1", "amount": 500})
        yield Peer(sim, c, response.json()["trade_no"])
    await sim.sim.aclose()


def request_fields(peer: Peer, credentials: dict[str, str]) -> dict[str, str]:
    return {
        "version": "5.1.0", "encoding": "UTF-8", "signMethod": "01",
        "certId": credentials["cert_id"], "txnType": "04", "txnSubType": "00",
        "bizType": "000201", "channelType": "07", "accessType": "0", "merId": MER_ID,
        "orderId": "OPENSSL00000001", "origQryId": peer.trade,
        "txnTime": datetime.now(BEIJING).strftime("%Y%m%d%H%M%S"), "txnAmt": "200",
        "currencyCode": "156", "backUrl": "http://gateway.test/cb",
    }  # fmt: skip


async def refund_signed_by_openssl(
    peer: Peer, tmp_path: Path, *, tamper: bool = False
) -> dict[str, str]:
    credentials = (await peer.http.get("/_control/credentials")).json()
    fields = request_fields(peer, credentials)
    fields["signature"] = openssl_sign(fields, credentials["sign_key_pem"], tmp_path)
    if tamper:
        fields["txnAmt"] = "300"
    response = await peer.http.post(REFUND_PATH, data=fields)
    return read_answer(response.text)


async def test_a_request_signed_by_openssl_is_accepted(client: Peer, tmp_path: Path):
    answer = await refund_signed_by_openssl(client, tmp_path)
    assert answer["respCode"] == "00"
    assert [r.amount for r in client.sim.sim.ledger.refunds()] == [200]


async def test_a_request_changed_after_openssl_signed_it_is_refused(client: Peer, tmp_path: Path):
    answer = await refund_signed_by_openssl(client, tmp_path, tamper=True)
    assert answer["respCode"] == "11"
    assert client.sim.sim.ledger.refunds() == []


async def test_openssl_verifies_the_answer_and_its_certificate_chain(client: Peer, tmp_path: Path):
    answer = await refund_signed_by_openssl(client, tmp_path)
    credentials = (await client.http.get("/_control/credentials")).json()
    assert openssl_verifies(answer, tmp_path)
    assert openssl_chains(answer["signPubKeyCert"], credentials["verify_root_pem"],
                          credentials["verify_middle_pem"], tmp_path)  # fmt: skip


async def test_openssl_refuses_an_answer_with_one_changed_byte(client: Peer, tmp_path: Path):
    answer = await refund_signed_by_openssl(client, tmp_path)
    assert not openssl_verifies({**answer, "queryId": answer["queryId"][:-1] + "X"}, tmp_path)
    signature = bytearray(base64.b64decode(answer["signature"]))
    signature[0] ^= 1
    assert not openssl_verifies({**answer, "signature": base64.b64encode(signature).decode()},
                                tmp_path)  # fmt: skip


async def test_openssl_refuses_a_chain_to_another_root(client: Peer, tmp_path: Path,
                                                       stranger: SandboxPki):  # fmt: skip
    answer = await refund_signed_by_openssl(client, tmp_path)
    assert not openssl_chains(answer["signPubKeyCert"], stranger.root.cert_pem,
                              stranger.middle.cert_pem, tmp_path)  # fmt: skip
    assert not openssl_chains(stranger.unionpay.cert_pem, client.sim.pki.root.cert_pem,
                              client.sim.pki.middle.cert_pem, tmp_path)  # fmt: skip
