"""The SDK and ``refundgate client`` against a live ``refundgate serve``, over real HTTP.

One server (SQLite, sandbox channels) serves the whole module; each test uses
its own orders and refund numbers. What the server did is read back from its
database file.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

import refundgate.client
import refundgate.client.aio
import refundgate.client.sync
from refundgate.client import (
    AsyncRefundClient,
    AuthenticationError,
    ConnectionFailed,
    OutcomeUnknown,
    RefundClient,
    RefundNotFound,
    RefundNumberConflict,
    RefundRefused,
    RefundRejected,
    RefundStatus,
    RetryPolicy,
)
from refundgate.domain.model import PayOrder, SandboxOutcome
from refundgate.store.migrate import upgrade
from refundgate.store.sqlite import SqliteStore
from tests.conftest import KEY, LOGIN, MCH_ID, seed_merchants
from tests.e2e.support import Servers, clean_env, free_port, one_line_error, rows, run_cli

pytestmark = pytest.mark.slow

NO_JITTER = RetryPolicy(attempts=3, first_delay=0.5, jitter=lambda delay: delay)
README = Path(__file__).resolve().parents[2] / "README.md"

#: Orders of the live merchant: (pay order id, channel id, cents, sandbox outcome).
ORDERS = [
    *((f"LIVE-ALI-{n}", "ALIPAY_QR", 10_000, None) for n in range(1, 13)),
    ("LIVE-WX-1", "WX_NATIVE", 10_000, None),
    ("LIVE-UPI-SLOW", "UPI_QR", 5_000, SandboxOutcome.TIMEOUT),
    ("LIVE-ALI-NO", "ALIPAY_QR", 5_000, SandboxOutcome.FAIL),
]


@dataclass
class Live:
    base_url: str
    db: Path

    def env(self, **overrides: str) -> dict[str, str]:
        """The environment of a merchant's process: REFUNDGATE_* for this server."""
        settings = {
            "REFUNDGATE_BASE_URL": self.base_url,
            "REFUNDGATE_MCH_ID": MCH_ID,
            "REFUNDGATE_KEY": KEY,
            "REFUNDGATE_LOGIN_NAME": LOGIN,
            **overrides,
        }
        return clean_env(**{name: value for name, value in settings.items() if value})

    def client(self, **options: Any) -> RefundClient:
        settings = {
            "base_url": self.base_url,
            "mch_id": MCH_ID,
            "key": KEY,
            "login_name": LOGIN,
            "retries": NO_JITTER,
            **options,
        }
        return RefundClient(**settings)

    def refunds(self, mch_refund_no: str) -> list[tuple[Any, ...]]:
        return rows(
            self.db,
            "SELECT refund_order_id, amount, status FROM refunds WHERE mch_refund_no = ?",
            mch_refund_no,
        )


async def _seed(url: str) -> None:
    store = SqliteStore(url)
    try:
        now = int(time.time() * 1000)
        await seed_merchants(store, now=now)
        for pay_order_id, channel_id, amount, outcome in ORDERS:
            order = PayOrder(MCH_ID, pay_order_id, channel_id, "CAD", amount, now)
            if outcome is not None:
                order = PayOrder(
                    MCH_ID, pay_order_id, channel_id, "CAD", amount, now, sandbox_outcome=outcome
                )
            await store.add_order(order)
    finally:
        await store.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("live")
    db = root / "refundgate.db"
    url = f"sqlite:///{db}"
    upgrade(url)
    asyncio.run(_seed(url))
    servers = Servers(root / "logs")
    try:
        server = servers.start("--database-url", url, cwd=root)
        yield Live(server.base_url, db)
    finally:
        servers.close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers (the kernel queues them)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port: int = listener.getsockname()[1]
        yield port


class LoseAnswers(httpx.BaseTransport):
    """Real HTTP to the server; the first ``times`` answers are read and then lost."""

    def __init__(self, times: int) -> None:
        self._inner = httpx.HTTPTransport()
        self._left = times
        self.sent = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        response = self._inner.handle_request(request)
        response.read()
        if self._left:
            self._left -= 1
            response.close()
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return response

    def close(self) -> None:
        self._inner.close()


# -- the sync and async clients over real HTTP ------------------------------------------------


def test_the_sync_client_refunds_and_queries_a_live_server(live: Live) -> None:
    with live.client() as client:
        refund = client.refund(
            pay_order_id="LIVE-ALI-1", mch_refund_no="LIVE-R-1", amount=Decimal("19.99")
        )
        by_number = client.query(mch_refund_no="LIVE-R-1")
        by_id = client.query(refund_order_id=refund.refund_order_id)

    assert (refund.status, refund.amount_cents, refund.currency) == (
        RefundStatus.SUCCEEDED,
        1999,
        "CAD",
    )
    assert refund.succeeded_at is not None
    assert by_number == by_id == refund
    assert live.refunds("LIVE-R-1") == [(refund.refund_order_id, 1999, "SUCCEEDED")]


async def test_the_async_client_refunds_and_queries_a_live_server(live: Live) -> None:
    async with AsyncRefundClient(
        base_url=live.base_url, mch_id=MCH_ID, key=KEY, login_name=LOGIN, strict=True
    ) as client:
        refund = await client.refund(
            pay_order_id="LIVE-ALI-2", mch_refund_no="LIVE-R-2", amount="0.29"
        )
        again = await client.query(mch_refund_no="LIVE-R-2")

    assert (refund.status, refund.amount_cents) == (RefundStatus.SUCCEEDED, 29)
    assert again == refund


def test_lost_answers_from_a_live_server_still_make_one_refund(live: Live) -> None:
    transport = LoseAnswers(times=2)
    sleeps: list[float] = []

    with live.client(transport=transport, sleep=sleeps.append) as client:
        refund = client.refund(pay_order_id="LIVE-ALI-3", mch_refund_no="LIVE-R-3", amount="5.00")

    assert refund.status is RefundStatus.SUCCEEDED
    assert transport.sent == 3
    assert sleeps == [0.5, 1.0]
    assert live.refunds("LIVE-R-3") == [(refund.refund_order_id, 500, "SUCCEEDED")]


def test_all_answers_lost_is_outcome_unknown_and_the_query_finds_the_one_refund(
    live: Live,
) -> None:
    with (
        live.client(transport=LoseAnswers(times=3), sleep=lambda _: None) as client,
        pytest.raises(OutcomeUnknown) as raised,
    ):
        client.refund(pay_order_id="LIVE-ALI-4", mch_refund_no="LIVE-R-4", amount_cents=400)

    with live.client() as client:
        found = client.query(mch_refund_no=raised.value.mch_refund_no or "")
    assert found.amount_cents == 400
    assert len(live.refunds("LIVE-R-4")) == 1


def test_a_server_that_never_answers_leaves_the_outcome_unknown(
    live: Live, silent_port: int
) -> None:
    sleeps: list[float] = []
    client = live.client(
        base_url=f"http://127.0.0.1:{silent_port}",
        timeout=httpx.Timeout(0.2, connect=5.0),
        sleep=sleeps.append,
    )

    with client, pytest.raises(OutcomeUnknown) as raised:
        client.refund(pay_order_id="LIVE-ALI-5", mch_refund_no="LIVE-R-5", amount_cents=100)

    assert raised.value.retry_safe is False
    assert isinstance(raised.value.__cause__, httpx.ReadTimeout)
    assert sleeps == [0.5, 1.0]


def test_a_server_that_is_not_there_sent_nothing_and_is_safe_to_retry(live: Live) -> None:
    sleeps: list[float] = []
    client = live.client(base_url=f"http://127.0.0.1:{free_port()}", sleep=sleeps.append)

    with client, pytest.raises(ConnectionFailed) as raised:
        client.refund(pay_order_id="LIVE-ALI-5", mch_refund_no="LIVE-R-6", amount_cents=100)

    assert not isinstance(raised.value, OutcomeUnknown)
    assert raised.value.retry_safe is True
    assert sleeps == [0.5, 1.0]


@pytest.mark.parametrize(
    ("options", "call", "error", "code"),
    [
        pytest.param({"key": "NOT-THE-KEY"}, {}, AuthenticationError, "SIGN_ERROR", id="sign"),
        pytest.param({"login_name": "mallory"}, {}, AuthenticationError, "LOGIN_NAME_INVALID"),
        pytest.param({}, {"pay_order_id": "NOPE-1"}, RefundRefused, "ORDER_NOT_EXIST"),
        pytest.param({}, {"amount_cents": 10_001}, RefundRefused, "REFUND_AMOUNT_EXCEEDED"),
        pytest.param({}, {"pay_order_id": "LIVE-ALI-NO"}, RefundRejected, "CHANNEL_REJECTED"),
    ],
)
def test_a_live_server_refusal_raises_its_class(
    live: Live, options: dict[str, Any], call: dict[str, Any], error: type, code: str
) -> None:
    arguments = {
        "pay_order_id": "LIVE-ALI-6",
        "mch_refund_no": f"LIVE-E-{code}",
        "amount_cents": 100,
        **call,
    }

    with live.client(**options) as client, pytest.raises(error) as raised:
        client.refund(**arguments)

    assert raised.value.err_code == code


def test_a_live_conflict_and_an_unknown_refund(live: Live) -> None:
    with live.client() as client:
        client.refund(pay_order_id="LIVE-ALI-7", mch_refund_no="LIVE-R-7", amount_cents=100)
        with pytest.raises(RefundNumberConflict):
            client.refund(pay_order_id="LIVE-ALI-7", mch_refund_no="LIVE-R-7", amount_cents=200)
        with pytest.raises(RefundNotFound):
            client.query(mch_refund_no="LIVE-NEVER")


def test_a_refund_the_channel_has_not_confirmed_is_refunding(live: Live) -> None:
    with live.client() as client:
        refund = client.refund(
            pay_order_id="LIVE-UPI-SLOW", mch_refund_no="LIVE-R-8", amount_cents=5_000
        )

    assert (refund.status, refund.is_final) == (RefundStatus.REFUNDING, False)


# -- only httpx ---------------------------------------------------------------------------------

ONLY_HTTPX = r"""
import json, sys

BLOCKED = ("sqlalchemy", "alembic", "click", "uvicorn", "structlog", "asyncpg")
SERVER = ("refundgate." + name for name in (
    "api", "bootstrap", "channels", "cli", "config", "domain", "ports", "sandbox",
    "service", "store", "system"))
SERVER = tuple(SERVER)


class Unimportable:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED or any(
            name == module or name.startswith(module + ".") for module in SERVER
        ):
            raise ModuleNotFoundError(f"{name} is made unimportable for this test")
        return None


sys.meta_path.insert(0, Unimportable())
for name in list(sys.modules):
    if name.split(".")[0] in BLOCKED:
        del sys.modules[name]

from decimal import Decimal
from refundgate.client import RefundClient

with RefundClient.from_env() as client:
    refund = client.refund(pay_order_id=sys.argv[1], mch_refund_no=sys.argv[2],
                           amount=Decimal("0.29"))
    found = client.query(refund_order_id=refund.refund_order_id)
loaded = sorted(name for name, module in sys.modules.items() if module is not None)
print(json.dumps({"refund": refund.to_dict(), "same": found == refund, "loaded": loaded}))
"""


def test_the_sdk_refunds_with_only_httpx_importable(live: Live, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", ONLY_HTTPX, "LIVE-ALI-8", "LIVE-R-9"],
        cwd=tmp_path,
        env=live.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["refund"]["amount_cents"] == 29
    assert outcome["refund"]["status"] == "SUCCEEDED"
    assert outcome["same"] is True
    heavy = {"sqlalchemy", "alembic", "click", "uvicorn", "structlog", "asyncpg"}
    assert not {name for name in outcome["loaded"] if name.split(".")[0] in heavy}
    assert "httpx" in outcome["loaded"]
    assert live.refunds("LIVE-R-9")[0][1:] == (29, "SUCCEEDED")


# -- refundgate client … -----------------------------------------------------------------------


def test_cli_refund_prints_a_summary_and_query_prints_json(live: Live, tmp_path: Path) -> None:
    refunded = run_cli(
        "client",
        "refund",
        "--pay-order-id",
        "LIVE-ALI-9",
        "--mch-refund-no",
        "CLI-1",
        "--amount",
        "19.99",
        cwd=tmp_path,
        env=live.env(),
    )
    [(refund_order_id, amount, status)] = live.refunds("CLI-1")
    queried = run_cli(
        "client", "query", "--mch-refund-no", "CLI-1", "--json", cwd=tmp_path, env=live.env()
    )

    assert refunded.returncode == 0, refunded.stderr
    lines = refunded.stdout.splitlines()
    assert lines[0] == f"refund {refund_order_id}: succeeded"
    assert "  amount          19.99 CAD (1999 cents)" in lines
    assert "  mchRefundNo     CLI-1" in lines
    assert (amount, status) == (1999, "SUCCEEDED")
    assert queried.returncode == 0, queried.stderr
    shown = json.loads(queried.stdout)
    assert shown["refund_order_id"] == refund_order_id
    assert (shown["amount_cents"], shown["amount"], shown["status"]) == (1999, "19.99", "SUCCEEDED")
    for result in (refunded, queried):
        assert KEY not in result.stdout + result.stderr
        assert result.stderr == ""


def test_cli_refund_in_cents_as_json_and_query_by_refund_order_id(
    live: Live, tmp_path: Path
) -> None:
    refunded = run_cli(
        "client",
        "refund",
        "--pay-order-id=LIVE-ALI-10",
        "--mch-refund-no=CLI-2",
        "--amount-cents=1999",
        "--json",
        cwd=tmp_path,
        env=live.env(),
    )
    refund = json.loads(refunded.stdout)
    queried = run_cli(
        "client",
        "query",
        "--refund-order-id",
        refund["refund_order_id"],
        cwd=tmp_path,
        env=live.env(),
    )

    assert refund["amount"] == "19.99"
    assert queried.returncode == 0, queried.stderr
    assert queried.stdout.startswith(f"refund {refund['refund_order_id']}: succeeded\n")


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        pytest.param(
            ["refund", "--pay-order-id=LIVE-ALI-11", "--mch-refund-no=CLI-3", "--amount=100.01"],
            {},
            r"refused: REFUND_AMOUNT_EXCEEDED: .*",
            id="refused",
        ),
        pytest.param(
            ["refund", "--pay-order-id=LIVE-ALI-11", "--mch-refund-no=CLI-4", "--amount=0.001"],
            {},
            r"invalid request: amount 0\.001 has more than 2 decimals",
            id="too-many-decimals",
        ),
        pytest.param(
            ["refund", "--pay-order-id=LIVE-ALI-11", "--mch-refund-no=CLI-5", "--amount=1"],
            {"REFUNDGATE_KEY": "NOT-THE-KEY"},
            r"not authenticated: SIGN_ERROR: signature error",
            id="wrong-key",
        ),
        pytest.param(
            ["query", "--mch-refund-no", "CLI-NEVER"],
            {},
            r"refused: REFUND_NOT_EXIST: refund does not exist",
            id="unknown-refund",
        ),
        pytest.param(
            ["query", "--mch-refund-no", "CLI-NEVER"],
            {"REFUNDGATE_KEY": ""},
            r"configuration: REFUNDGATE_KEY is not set .*",
            id="no-key",
        ),
        pytest.param(
            ["refund", "--pay-order-id=LIVE-ALI-11", "--mch-refund-no=CLI-6", "--amount=1"],
            {"REFUNDGATE_LOGIN_NAME": ""},
            r"invalid request: a refund needs a login_name .*",
            id="no-login-name",
        ),
    ],
)
def test_cli_errors_are_one_line_and_exit_1(
    live: Live, tmp_path: Path, args: list[str], env: dict[str, str], expected: str
) -> None:
    result = run_cli("client", *args, cwd=tmp_path, env=live.env(**env))

    line = one_line_error(result)
    assert result.returncode == 1
    assert re.fullmatch(f"refundgate: {expected}", line), line
    assert result.stdout == ""
    assert KEY not in line


def test_cli_errors_with_json_are_also_json_on_stdout(live: Live, tmp_path: Path) -> None:
    result = run_cli(
        "client", "query", "--mch-refund-no", "CLI-NEVER", "--json", cwd=tmp_path, env=live.env()
    )

    one_line_error(result)
    shown = json.loads(result.stdout)
    assert (shown["error"], shown["err_code"]) == ("RefundNotFound", "REFUND_NOT_EXIST")


def test_cli_outcome_unknown_exits_3_and_names_the_number_to_query(
    live: Live, tmp_path: Path, silent_port: int
) -> None:
    env = live.env(REFUNDGATE_BASE_URL=f"http://127.0.0.1:{silent_port}", REFUNDGATE_TIMEOUT="0.2")

    result = run_cli(
        "client",
        "refund",
        "--pay-order-id=LIVE-ALI-12",
        "--mch-refund-no=CLI-7",
        "--amount=1.00",
        cwd=tmp_path,
        env=env,
    )

    line = one_line_error(result)
    assert result.returncode == 3
    assert line.startswith("refundgate: outcome unknown: ")
    assert "query later with mch_refund_no=CLI-7" in line


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["refund", "--pay-order-id=P", "--mch-refund-no=N"], id="no-amount"),
        pytest.param(
            ["refund", "--pay-order-id=P", "--mch-refund-no=N", "--amount=1", "--amount-cents=100"],
            id="both-amounts",
        ),
        pytest.param(
            ["refund", "--pay-order-id=P", "--mch-refund-no=N", "--amount-cents=1.5"],
            id="cents-with-a-point",
        ),
        pytest.param(["query"], id="no-id"),
    ],
)
def test_cli_malformed_command_lines_exit_2(live: Live, tmp_path: Path, args: list[str]) -> None:
    result = run_cli("client", *args, cwd=tmp_path, env=live.env())

    one_line_error(result)
    assert result.returncode == 2


# -- the README's examples --------------------------------------------------------------------


def readme_python_blocks() -> list[str]:
    text = README.read_text("utf-8")
    section = text[text.index("## Python SDK\n") :]
    section = section[: section.index("\n## ", 1)]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def docstring_examples() -> list[str]:
    """The literal blocks of the SDK's module docstrings that use it."""
    blocks = []
    for module in (refundgate.client, refundgate.client.sync, refundgate.client.aio):
        for block in re.findall(r"::\n\n((?:    .*\n|\n)+)", module.__doc__ or ""):
            if "from refundgate.client import" in block:
                blocks.append(textwrap.dedent(block))
    return blocks


def test_the_readme_and_docstring_examples_run_against_the_demo(tmp_path: Path) -> None:
    servers = Servers(tmp_path / "logs")
    try:
        server = servers.start(cwd=tmp_path)
        key = re.search(r"^\s+key\s+(\S+)\s*$", server.stdout(), flags=re.MULTILINE)
        assert key is not None, server.stdout()
        env = clean_env(
            REFUNDGATE_BASE_URL=server.base_url,
            REFUNDGATE_MCH_ID="10000001",
            REFUNDGATE_KEY=key[1],
            REFUNDGATE_LOGIN_NAME="demo",
        )
        blocks = readme_python_blocks()
        examples = docstring_examples()
        outputs = []
        for block in blocks + examples:
            result = subprocess.run(
                [sys.executable, "-c", block],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert result.returncode == 0, f"{block}\n{result.stderr}"
            outputs.append(result.stdout)
    finally:
        servers.close()

    assert len(blocks) == 4
    assert len(examples) == 3
    assert re.fullmatch(r"R\w+ 19\.99 CAD\n", outputs[0]), outputs[0]
    assert outputs[1:] == [
        "refused: REFUND_AMOUNT_EXCEEDED\n",
        "SUCCEEDED 250\n",
        "",
        "SUCCEEDED\n",
        "",
        "",
    ]
