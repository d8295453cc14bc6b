"""``refundgate channel-account``: keys from files, checked before storing, never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from refundgate.sandbox.alipay.simulator import AlipaySimulator
from tests.e2e.support import one_line_error, rows, run_cli

pytestmark = pytest.mark.slow


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A database with merchant M1, and Alipay sandbox key files."""
    assert (
        run_cli("merchant", "add", "--mch-id", "M1", "--key", "k" * 16, cwd=tmp_path).returncode
        == 0
    )
    creds = AlipaySimulator().credentials()
    (tmp_path / "app.pem").write_text(creds["app_private_key_pem"])
    (tmp_path / "alipay.pem").write_text(creds["alipay_public_key_pem"])
    (tmp_path / "app_id").write_text(creds["app_id"])
    return tmp_path


def alipay_set(folder: Path, *owner: str, key: str = "app.pem") -> list[str]:
    app_id = (folder / "app_id").read_text()
    return [
        "channel-account", "set", *owner, "--channel", "alipay", "--app-id", app_id,
        "--private-key-file", key, "--public-key-file", "alipay.pem",
        "--base-url", "http://127.0.0.1:9/alipay/gateway.do",
    ]  # fmt: skip


def stored(folder: Path) -> list[tuple[object, ...]]:
    return rows(folder / "refundgate.db", "SELECT mch_id, family FROM channel_accounts")


def test_set_then_list_shows_the_account_and_no_secret(folder: Path) -> None:
    set_result = run_cli(*alipay_set(folder, "--mch-id", "M1"), cwd=folder)
    default_result = run_cli(*alipay_set(folder, "--default"), cwd=folder)
    listed = run_cli("channel-account", "list", cwd=folder)

    assert set_result.returncode == 0, set_result.stderr
    assert set_result.stdout == "alipay account of M1 set\n"
    assert default_result.stdout == "alipay account of the default set\n"
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [["(default)", "alipay"], ["M1", "alipay"]]
    key_body = (folder / "app.pem").read_text().splitlines()[1]
    for output in (set_result, default_result, listed):
        assert key_body not in output.stdout + output.stderr
        assert "PRIVATE" not in output.stdout + output.stderr


def test_an_unusable_key_is_refused_and_nothing_stored(folder: Path) -> None:
    (folder / "bad.pem").write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n")
    error = one_line_error(run_cli(*alipay_set(folder, "--default", key="bad.pem"), cwd=folder))
    assert "alipay credentials unusable" in error
    assert "not a key" not in error
    assert stored(folder) == []


def test_an_unknown_merchant_is_refused(folder: Path) -> None:
    error = one_line_error(run_cli(*alipay_set(folder, "--mch-id", "NOBODY"), cwd=folder))
    assert "NOBODY" in error
    assert stored(folder) == []


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        ((), "exactly one of"),
        (("--mch-id", "M1", "--default"), "exactly one of"),
        (("--default", "--appid", "wx1"), "--appid does not apply to alipay"),
        (("--default", "--public-key-file", "missing.pem"), "cannot read missing.pem"),
    ],
)
def test_malformed_commands_say_why(folder: Path, extra: tuple[str, ...], said: str) -> None:
    args = alipay_set(folder)
    if "--public-key-file" in extra:
        args = args[: args.index("--public-key-file")] + args[args.index("--base-url") :]
    result = run_cli(*args, *extra, cwd=folder)
    assert result.returncode != 0
    assert said in result.stderr
    assert stored(folder) == []


def test_a_missing_credential_is_named(folder: Path) -> None:
    result = run_cli(
        "channel-account", "set", "--default", "--channel", "wechat", "--appid", "wx1",
        cwd=folder,
    )  # fmt: skip
    assert result.returncode != 0
    assert "wechat needs mch_id, api_key, cert_pem, key_pem" in result.stderr
