"""The console script, run as a process: what each command writes, and how it refuses."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import NOW_MS, db_snapshot
from tests.e2e.support import clean_env, one_line_error, rows, run_cli, run_cli_many

pytestmark = pytest.mark.slow

#: The longest notify URL there is room for (String(200)).
NOTIFY_URL_200 = "https://shop.example/refunds/" + "r" * (
    200 - len("https://shop.example/refunds/")
)

TABLES = {"merchants", "operators", "pay_orders", "refunds", "refund_events", "notifications"}


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


# -- commands that work ------------------------------------------------------------


def test_init_creates_the_default_database_in_the_working_folder_once(tmp_path: Path) -> None:
    result = run_cli("init", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout == "database ready: sqlite:///refundgate.db\n"
    db = tmp_path / "refundgate.db"
    names = {row[0] for row in rows(db, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert names >= TABLES
    assert rows(db, "SELECT count(*) FROM merchants") == [(0,)]
    before = db_snapshot(db)

    again = run_cli("init", cwd=tmp_path)

    assert again.returncode == 0, again.stderr
    assert db_snapshot(db) == before


def test_database_url_from_option_environment_or_group_option(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    by_option = tmp_path / "option.db"
    by_env = tmp_path / "env.db"
    by_group = tmp_path / "group.db"

    results = run_cli_many(
        [
            (("init", "--database-url", sqlite_url(by_option)), work, None),
            (("init",), work, clean_env(REFUNDGATE_DATABASE_URL=sqlite_url(by_env))),
            (("--database-url", sqlite_url(by_group), "init"), work, None),
        ]
    )

    assert [result.returncode for result in results] == [0, 0, 0], [r.stderr for r in results]
    assert by_option.is_file()
    assert by_env.is_file()
    assert by_group.is_file()
    assert not (work / "refundgate.db").exists()


def test_every_command_writes_its_rows(tmp_path: Path) -> None:
    db = tmp_path / "refundgate.db"
    started = int(time.time() * 1000)
    # Stages run one after the other; the commands of a stage run side by side.
    stages = [
        {"init": ("init",)},
        {
            "M1": ("merchant", "add", "--mch-id", "M1", "--key", "KEY-ONE-1", "--name", "Shop One",
                   "--notify-url", NOTIFY_URL_200),
            "M2": ("merchant", "add", "--mch-id", "M2", "--key", "KEY-TWO-2"),
        },
        {
            "alice": ("operator", "add", "--mch-id", "M1", "--login-name", "alice"),
            "bob": ("operator", "add", "--mch-id", "M1", "--login-name", "bob", "--no-refund"),
            "P-ALI": ("order", "add", "--mch-id", "M1", "--pay-order-id", "P-ALI",
                      "--channel-id", "ALIPAY_QR", "--amount", "10000"),
            "P-WX": ("order", "add", "--mch-id", "M1", "--pay-order-id", "P-WX",
                     "--channel-id", "WX_NATIVE", "--amount", "1", "--currency", "usd",
                     "--paid-at", "2026-01-01T12:00:00Z", "--sandbox-outcome", "timeout"),
            "P-UPI": ("order", "add", "--mch-id", "M1", "--pay-order-id", "P-UPI",
                      "--channel-id", "UPI_QR", "--amount", "2147483647",
                      "--paid-at", "2026-01-01T07:00:00-05:00", "--sandbox-outcome", "processing"),
            "P-NAIVE": ("order", "add", "--mch-id", "M2", "--pay-order-id", "P-NAIVE",
                        "--channel-id", "WX_MICROPAY", "--amount", "250",
                        "--paid-at", "2026-01-01T12:00:00"),
            "P-CARD": ("order", "add", "--mch-id", "M2", "--pay-order-id", "P-CARD",
                       "--channel-id", "CC_PAX", "--amount", "700"),
        },
    ]  # fmt: skip
    outputs: dict[str, str] = {}
    for stage in stages:
        results = run_cli_many([(command, tmp_path, None) for command in stage.values()])
        for (name, command), result in zip(stage.items(), results, strict=True):
            assert result.returncode == 0, (command, result.stderr)
            assert result.stderr == "", (command, result.stderr)
            outputs[name] = result.stdout
    ended = int(time.time() * 1000)

    assert outputs == {
        "init": "database ready: sqlite:///refundgate.db\n",
        "M1": "merchant M1 added\n",
        "M2": "merchant M2 added\n",
        "alice": "operator alice of merchant M1 added\n",
        "bob": "operator bob of merchant M1 added\n",
        "P-ALI": "order P-ALI added\n",
        "P-WX": "order P-WX added\n",
        "P-UPI": "order P-UPI added\n",
        "P-NAIVE": "order P-NAIVE added\n",
        "P-CARD": "order P-CARD added (not refundable here: not WeChat Pay, Alipay or UnionPay)\n",
    }
    assert rows(
        db,
        "SELECT mch_id, name, status, sign_key, previous_key, notify_url FROM merchants"
        " ORDER BY mch_id",
    ) == [
        ("M1", "Shop One", "ACTIVE", "KEY-ONE-1", None, NOTIFY_URL_200),
        ("M2", "", "ACTIVE", "KEY-TWO-2", None, None),
    ]
    assert rows(
        db, "SELECT mch_id, login_name, may_refund, active FROM operators ORDER BY login_name"
    ) == [("M1", "alice", 1, 1), ("M1", "bob", 0, 1)]
    orders = {
        row[1]: row
        for row in rows(
            db,
            "SELECT mch_id, pay_order_id, channel_id, currency, amount, paid_at, status,"
            " refunded_amount, reserved_amount, refund_count, last_refund_at, sandbox_outcome"
            " FROM pay_orders",
        )
    }
    assert set(orders) == {"P-ALI", "P-WX", "P-UPI", "P-NAIVE", "P-CARD"}
    ali = orders["P-ALI"]
    assert ali[:5] == ("M1", "P-ALI", "ALIPAY_QR", "CAD", 10000)
    assert started - 1000 <= ali[5] <= ended + 1000  # paid_at defaults to now
    assert ali[6:] == ("PAID", 0, 0, 0, None, None)
    assert orders["P-WX"] == (
        "M1", "P-WX", "WX_NATIVE", "USD", 1, NOW_MS, "PAID", 0, 0, 0, None, "timeout",
    )  # fmt: skip
    assert orders["P-UPI"] == (
        "M1", "P-UPI", "UPI_QR", "CAD", 2147483647, NOW_MS, "PAID", 0, 0, 0, None, "processing",
    )  # fmt: skip
    assert orders["P-NAIVE"][:6] == ("M2", "P-NAIVE", "WX_MICROPAY", "CAD", 250, NOW_MS)
    assert orders["P-CARD"][:5] == ("M2", "P-CARD", "CC_PAX", "CAD", 700)
    assert rows(db, "SELECT count(*) FROM refunds") == [(0,)]


# -- refusals: one line on stderr, non-zero exit, nothing changed -------------------


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with merchant M1 (operator alice) and its ALIPAY_QR order P1."""
    folder = tmp_path_factory.mktemp("populated")
    for command in (
        ("merchant", "add", "--mch-id", "M1", "--key", "KEY-0001"),
        ("operator", "add", "--mch-id", "M1", "--login-name", "alice"),
        ("order", "add", "--mch-id", "M1", "--pay-order-id", "P1", "--channel-id", "ALIPAY_QR",
         "--amount", "1000"),
    ):  # fmt: skip
        result = run_cli(*command, cwd=folder)
        assert result.returncode == 0, result.stderr
    return folder / "refundgate.db"


ORDER = ("order", "add", "--mch-id", "M1", "--pay-order-id", "P2", "--channel-id", "WX_NATIVE")

REFUSALS = {
    "operator of unknown merchant": (
        ("operator", "add", "--mch-id", "NOPE", "--login-name", "x"), "unknown merchant"),
    "order of unknown merchant": (
        ("order", "add", "--mch-id", "NOPE", "--pay-order-id", "P9", "--channel-id",
         "ALIPAY_QR", "--amount", "100"), "unknown merchant"),
    "duplicate merchant": (("merchant", "add", "--mch-id", "M1", "--key", "OTHERKEY"), "exists"),
    "duplicate order": (
        ("order", "add", "--mch-id", "M1", "--pay-order-id", "P1", "--channel-id", "WX_NATIVE",
         "--amount", "5"), "exists"),
    "amount zero": ((*ORDER, "--amount", "0"), "--amount"),
    "amount negative": ((*ORDER, "--amount", "-5"), "--amount"),
    "amount not a number": ((*ORDER, "--amount", "abc"), "--amount"),
    "amount with decimals": ((*ORDER, "--amount", "1.5"), "--amount"),
    "notify url not http": (
        ("merchant", "add", "--mch-id", "M3", "--key", "KEY-0003", "--notify-url", "ftp://x.example/n"),
        "--notify-url"),
    "notify url with query": (
        ("merchant", "add", "--mch-id", "M3", "--key", "KEY-0003", "--notify-url",
         "https://x.example/n?a=1"), "--notify-url"),
    "paid-at not a date": ((*ORDER, "--amount", "5", "--paid-at", "yesterday"), "--paid-at"),
    "currency too short": ((*ORDER, "--amount", "5", "--currency", "CA"), "--currency"),
    "key too short to be a secret": (("merchant", "add", "--mch-id", "M4", "--key", "K"), "--key"),
    "mch-id no request could name": (
        ("merchant", "add", "--mch-id", "M 4", "--key", "KEY-0004"), "--mch-id"),
    "mch-id too long": (("merchant", "add", "--mch-id", "M" * 31, "--key", "KEY-0004"), "--mch-id"),
    "pay-order-id too long": (
        ("order", "add", "--mch-id", "M1", "--pay-order-id", "P" * 65, "--channel-id",
         "ALIPAY_QR", "--amount", "100"), "--pay-order-id"),
}  # fmt: skip


@dataclass(frozen=True)
class Refusals:
    before: dict[str, list[tuple[Any, ...]]]
    after: dict[str, list[tuple[Any, ...]]]
    results: dict[str, tuple[subprocess.CompletedProcess[str], Path]]


@pytest.fixture(scope="module")
def refusals(populated: Path, tmp_path_factory: pytest.TempPathFactory) -> Refusals:
    """Every refused command, run side by side (each in an empty working folder)."""
    before = db_snapshot(populated)
    env = clean_env(REFUNDGATE_DATABASE_URL=sqlite_url(populated))
    folders = {name: tmp_path_factory.mktemp("refused") for name in REFUSALS}
    results = run_cli_many([(args, folders[name], env) for name, (args, _) in REFUSALS.items()])
    return Refusals(
        before,
        db_snapshot(populated),
        {name: (result, folders[name]) for name, result in zip(REFUSALS, results, strict=True)},
    )


@pytest.mark.parametrize("name", REFUSALS)
def test_bad_input_gives_one_line_and_changes_nothing(refusals: Refusals, name: str) -> None:
    result, folder = refusals.results[name]

    line = one_line_error(result)
    assert REFUSALS[name][1] in line
    assert result.stdout == ""
    assert not (folder / "refundgate.db").exists()


def test_refused_commands_changed_nothing(refusals: Refusals) -> None:
    assert refusals.after == refusals.before


def test_notify_url_longer_than_200_is_refused(tmp_path: Path) -> None:
    """notifyUrl is String(200) on the wire and in merchants.notify_url."""
    url = "https://x.example/" + "n" * (201 - len("https://x.example/"))
    assert len(url) == 201

    result = run_cli("merchant", "add", "--mch-id", "M1", "--key", "KEY-0003", "--notify-url", url,
                     cwd=tmp_path)  # fmt: skip

    line = one_line_error(result)
    assert "--notify-url" in line
    assert not (tmp_path / "refundgate.db").exists() or rows(
        tmp_path / "refundgate.db", "SELECT count(*) FROM merchants"
    ) == [(0,)]


BAD_DATABASES = {
    "postgresql scheme": "postgresql://user@localhost/refundgate",
    "not a url": "refundgate.db",
    "sqlite without a file": "sqlite://",
    "missing folder": "sqlite:///{tmp}/no/such/folder/refundgate.db",
    "folder is a file": "sqlite:///{tmp}/a-file/refundgate.db",
    "file is a folder": "sqlite:///{tmp}/a-folder",
    "file is not a database": "sqlite:///{tmp}/garbage.db",
    "folder not writable": "sqlite:////proc/refundgate.db",
}

COMMANDS = {
    "init": ("init",),
    "merchant add": ("merchant", "add", "--mch-id", "M", "--key", "KEY-0003"),
    "operator add": ("operator", "add", "--mch-id", "M", "--login-name", "x"),
    "order add": ("order", "add", "--mch-id", "M", "--pay-order-id", "P", "--channel-id",
                  "ALIPAY_QR", "--amount", "5"),
}  # fmt: skip


BAD_DATABASE_CASES = [
    *((database, "init") for database in BAD_DATABASES),
    ("missing folder", "merchant add"),
    ("missing folder", "order add"),
    ("file is a folder", "order add"),
]


@pytest.fixture(scope="module")
def bad_databases(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[tuple[str, str], tuple[subprocess.CompletedProcess[str], Path]]:
    """Each command against each unusable database URL, side by side."""
    root = tmp_path_factory.mktemp("bad-databases")
    (root / "a-file").write_text("not a folder")
    (root / "a-folder").mkdir()
    (root / "garbage.db").write_bytes(b"this is not a SQLite database, not at all\n" * 64)
    cases = BAD_DATABASE_CASES
    folders = {case: tmp_path_factory.mktemp("work") for case in cases}
    results = run_cli_many(
        [
            (
                (*COMMANDS[command], "--database-url", BAD_DATABASES[database].format(tmp=root)),
                folders[database, command],
                None,
            )
            for database, command in cases
        ]
    )
    return {case: (result, folders[case]) for case, result in zip(cases, results, strict=True)}


@pytest.mark.parametrize(("database", "command"), BAD_DATABASE_CASES)
def test_unusable_database_gives_one_line(
    bad_databases: dict[tuple[str, str], tuple[subprocess.CompletedProcess[str], Path]],
    database: str,
    command: str,
) -> None:
    result, folder = bad_databases[database, command]

    one_line_error(result)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert list(folder.iterdir()) == []
