"""The console script on PostgreSQL: set-up, serving, and a database that is not there."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.backends import truncate
from tests.conftest import params_body, refund_fields, signed_fields
from tests.e2e.support import Servers, clean_env, one_line_error, run_cli

pytestmark = pytest.mark.slow

UNREACHABLE = "postgresql://postgres:pw-not-shown@127.0.0.1:1/refundgate"


async def test_the_commands_set_up_and_serve_a_postgresql_database(
    tmp_path: Path, servers: Servers, pg_url: str
) -> None:
    await truncate(pg_url)
    env = clean_env(REFUNDGATE_DATABASE_URL=pg_url)
    steps = [
        ("init",),
        ("merchant", "add", "--mch-id", "10000576", "--key", "TESTKEY123"),
        ("operator", "add", "--mch-id", "10000576", "--login-name", "vincent"),
        ("order", "add", "--mch-id", "10000576", "--pay-order-id", "ALI-1",
         "--channel-id", "ALIPAY_QR", "--amount", "10000", "--currency", "CAD"),
    ]  # fmt: skip
    for step in steps:
        result = run_cli(*step, cwd=tmp_path, env=env)
        assert result.returncode == 0, (step, result.stderr)
    server = servers.start("--workers", "2", cwd=tmp_path, env=env)
    fields = refund_fields(payOrderId="ALI-1", refundAmount="2500")
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        answers = [
            (
                await client.post("/v1/refund_order", content=params_body(signed_fields(fields)))
            ).json()
            for _ in range(3)
        ]
        health = await client.get("/healthz")
    assert health.status_code == 200
    assert {a["refundOrderId"] for a in answers} == {answers[0]["refundOrderId"]}
    assert [(a["resCode"], a["status"]) for a in answers] == [("SUCCESS", 2)] * 3
    assert server.stdout() == ""  # a database with merchants is not seeded


@pytest.mark.parametrize(
    "command",
    [("init",), ("serve",), ("merchant", "add", "--mch-id", "1", "--key", "KEY-12345")],
)
def test_an_unreachable_database_is_one_clear_line_and_a_failure(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    result = run_cli(*command, cwd=tmp_path, env=clean_env(REFUNDGATE_DATABASE_URL=UNREACHABLE))
    line = one_line_error(result)
    assert "database unavailable: postgresql:" in line
    assert "refused" in line.lower() or "connect" in line.lower()
    assert "pw-not-shown" not in result.stderr + result.stdout


def test_init_never_prints_the_database_password(tmp_path: Path, pg_url: str) -> None:
    with_password = pg_url.replace("postgresql://postgres@", "postgresql://postgres:pw-hidden@")
    assert with_password != pg_url  # trust authentication ignores the password
    result = run_cli("init", cwd=tmp_path, env=clean_env(REFUNDGATE_DATABASE_URL=with_password))
    assert result.returncode == 0, result.stderr
    assert "pw-hidden" not in result.stdout + result.stderr
    assert result.stdout.startswith("database ready: postgresql://postgres:***@")
