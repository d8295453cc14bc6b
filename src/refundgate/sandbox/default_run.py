"""The embedded default run: the demo's refunds go through the real connectors to the
protocol-faithful simulators, not through the in-process sandbox channel.

How (the design, and why):

* ``refundgate serve`` on an SQLite database that holds the demo merchant (or
  is empty, and gets it) and no channel account runs the three simulators in a
  **thread of its own process** (:class:`DefaultRun`) on a free loopback port.
  A thread, not a child process: it lives and dies with ``serve`` by
  construction (no orphan after a ``kill -9``, no port to pass back), and every
  worker process of ``--workers N`` reaches the same simulators over HTTP.
* The simulators' books (trades, refunds) are kept in a **state file** next to
  the database (``refundgate.db`` → ``refundgate.sandbox.json``, or
  ``REFUNDGATE_SANDBOX_STATE``), read back at the next start, so that after a
  restart the demo orders are refundable and processing refunds can be asked
  about. Seeding a fresh demo starts a fresh state file. Keys are made afresh
  at each start; the workers fetch them at their own start.
* Each demo order is a paid trade of its simulator, and its *sandbox outcome*
  becomes that trade's script (:data:`SCRIPTS`), filed again at each start:
  ``succeed`` nothing; ``processing`` a settle delay (accepted now, settled by
  the simulator's timer, then called back or found by a query); ``fail`` the
  ``reject`` fault; ``timeout`` the ``timeout`` fault (committed, answered too
  late) and a settle delay longer than any demo, so it stays processing.
* The workers see the simulators as **channel accounts of the demo merchant
  that live only in memory** (:class:`SandboxAccounts`): the registry builds
  the real connectors from them, and the callback routes verify WeChat Pay and
  UnionPay notifications with them (``notify_url`` / ``backUrl`` is the
  gateway's own loopback address). Nothing is written to ``channel_accounts``;
  once any real account is stored, the in-memory ones are dropped at the next
  reload and ``serve`` no longer starts the simulators.

Other merchants, and every test that builds ``Deps`` with
:class:`~refundgate.sandbox.channel.SandboxChannel`, keep the in-process sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn

from refundgate.domain.channels import ChannelFamily, family_of
from refundgate.domain.model import SandboxOutcome
from refundgate.domain.secret import Secret
from refundgate.ports import AdminStore, ChannelAccount, ChannelAccounts
from refundgate.sandbox.alipay.simulator import AlipaySimulator
from refundgate.sandbox.demo import DEMO_MCH_ID, DEMO_ORDERS, DemoData, seed_demo
from refundgate.sandbox.simulator import (
    DuplicateTrade,
    Fault,
    FaultEntry,
    Mounted,
    Operation,
    Simulator,
    SimulatorConfig,
    Trade,
)
from refundgate.sandbox.simulator.persist import StateFile
from refundgate.sandbox.unionpay.simulator import UnionPaySimulator
from refundgate.sandbox.wechat.simulator import WeChatSimulator

__all__ = [
    "ENV_NOTIFY_BASE",
    "ENV_STATE",
    "ENV_URL",
    "SCRIPTS",
    "DefaultRun",
    "SandboxAccounts",
    "Script",
    "environment",
    "is_default_run",
    "open_default_run",
    "sandbox_accounts",
    "state_path",
]

#: Set by ``serve`` for its workers: where the simulators listen.
ENV_URL = "REFUNDGATE_SANDBOX_URL"
#: Set by ``serve`` for its workers: the gateway's own address, for channel callbacks.
ENV_NOTIFY_BASE = "REFUNDGATE_SANDBOX_NOTIFY_BASE"
#: Where the simulators' books are kept (default: beside the SQLite file).
ENV_STATE = "REFUNDGATE_SANDBOX_STATE"

#: How long a ``processing`` demo refund waits at the channel before it succeeds (s).
PROCESSING_DELAY_S = 2.0
#: A ``timeout`` demo refund never settles within a demo (about a year).
NEVER_S = 31_536_000.0
#: How long a ``timeout`` answer is held: past any channel timeout the gateway allows.
_HOLD_S = 330.0
#: Enough uses of a scripted fault for every refund a demo will ever make.
_ALWAYS = 10_000


@dataclass(frozen=True, slots=True)
class Script:
    """What a simulator does with a demo trade's refunds."""

    fault: Fault | None = None
    settle_delay: float | None = None


#: The sandbox outcome of a demo order, as its trade's script.
SCRIPTS: Mapping[SandboxOutcome, Script] = {
    SandboxOutcome.SUCCEED: Script(),
    SandboxOutcome.PROCESSING: Script(settle_delay=PROCESSING_DELAY_S),
    SandboxOutcome.FAIL: Script(Fault.REJECT),
    SandboxOutcome.TIMEOUT: Script(Fault.TIMEOUT, settle_delay=NEVER_S),
}

_MOUNTS = {
    ChannelFamily.WECHAT: "wechat",
    ChannelFamily.ALIPAY: "alipay",
    ChannelFamily.UNIONPAY: "unionpay",
}


def state_path(database_url: str, environ: Mapping[str, str]) -> Path | None:
    """The simulators' state file for ``database_url``; None when it is not SQLite
    (the default run is the embedded SQLite one)."""
    if not database_url.startswith("sqlite:///"):
        return None
    if environ.get(ENV_STATE):
        return Path(environ[ENV_STATE])
    database = Path(database_url.removeprefix("sqlite:///"))
    return database.with_name(database.stem + ".sandbox.json")


async def is_default_run(store: AdminStore) -> tuple[bool, bool]:
    """(run the simulators?, seed the demo?): an empty database gets the demo and the
    simulators; one with the demo merchant and no channel account gets the simulators."""
    if not await store.merchant_count():
        return True, True
    if await store.channel_accounts():
        return False, False
    return await store.access(DEMO_MCH_ID, None) is not None, False


class DefaultRun:
    """The three simulators on a loopback port, served from a thread of ``serve``."""

    def __init__(self, state: Path, *, fresh: bool) -> None:
        if fresh:
            state.unlink(missing_ok=True)
        config = SimulatorConfig(hold_seconds=_HOLD_S)
        self.wechat = WeChatSimulator(config=config)
        self.alipay = AlipaySimulator(config=config)
        self.unionpay = UnionPaySimulator(config=config)
        self.simulators: dict[ChannelFamily, Simulator] = {
            ChannelFamily.WECHAT: self.wechat.sim,
            ChannelFamily.ALIPAY: self.alipay.sim,
            ChannelFamily.UNIONPAY: self.unionpay.sim,
        }
        StateFile(state).attach(*self.simulators.values())
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        app = Mounted(*self.simulators.values())
        served = uvicorn.Config(
            app, log_level="warning", access_log=False, timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(served)
        self._thread = threading.Thread(target=self._serve, name="sandbox", daemon=True)

    def _serve(self) -> None:
        self._server.run(sockets=[self._sock])

    def start(self, *, timeout_s: float = 30.0) -> None:
        """Serve, and return once the simulators answer."""
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the channel simulators did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def script(self, orders: Sequence[tuple[str, str, int, SandboxOutcome]]) -> dict[str, str]:
        """Make each order a paid trade (if it is not one already) and file its script;
        the channel's trade number of each."""
        numbers = {}
        for pay_order_id, channel_id, amount, outcome in orders:
            family = family_of(channel_id)
            if family is None:
                continue
            sim = self.simulators[family]
            numbers[pay_order_id] = self._trade(sim, pay_order_id, amount, SCRIPTS[outcome])
            fault = SCRIPTS[outcome].fault
            if fault is not None:
                sim.faults.file(FaultEntry(fault, _ALWAYS, pay_order_id, Operation.REFUND))
        return numbers

    @staticmethod
    def _trade(sim: Simulator, out_trade_no: str, amount: int, script: Script) -> str:
        ledger = sim.ledger
        with ledger.atomic():
            known = ledger.trade(out_trade_no)
            if known is not None:
                return known.trade_no
            number = sim.channel.trade_no(out_trade_no, ledger.trade_count() + 1)
            trade = Trade(out_trade_no, number, amount, "CAD", sim.clock.now(), script.settle_delay)
            with contextlib.suppress(DuplicateTrade):
                ledger.add_trade(trade)
            return number


def _credentials(family: ChannelFamily, base: str, found: Mapping[str, str],
                 notify_base: str) -> dict[str, str]:  # fmt: skip
    mount = f"{base}/{_MOUNTS[family]}"
    if family is ChannelFamily.WECHAT:
        wechat = ("appid", "mch_id", "api_key", "cert_pem", "key_pem")
        fields = {name: found[name] for name in wechat}
        fields["notify_url"] = f"{notify_base}/v1/channels/wechat/notify"
        return fields | {"base_url": mount + "/"}
    if family is ChannelFamily.ALIPAY:
        alipay = ("app_id", "app_private_key_pem", "alipay_public_key_pem")
        return {name: found[name] for name in alipay} | {"base_url": mount + "/gateway.do"}
    names = ("mer_id", "sign_key_pem", "sign_cert_pem", "verify_cert_pem", "verify_identity")
    fields = {name: found[name] for name in names}
    fields["notify_url"] = f"{notify_base}/v1/channels/unionpay/notify"
    return fields | {"base_url": mount}


class SandboxAccounts:
    """The store's channel accounts, or, while it has none, the demo merchant's
    accounts at the simulators (in memory only, never stored)."""

    def __init__(self, store: ChannelAccounts, accounts: Sequence[ChannelAccount]) -> None:
        self._store = store
        self._sandbox = list(accounts)

    async def channel_accounts(self) -> list[ChannelAccount]:
        stored = await self._store.channel_accounts()
        return stored if stored else list(self._sandbox)

    async def channel_account(self, mch_id: str, family: ChannelFamily) -> ChannelAccount | None:
        return await self._store.channel_account(mch_id, family)

    async def set_channel_account(self, account: ChannelAccount) -> None:
        await self._store.set_channel_account(account)


def sandbox_accounts(store: ChannelAccounts, environ: Mapping[str, str]) -> ChannelAccounts | None:
    """The accounts a worker of a default run uses (credentials fetched from the
    simulators now), or None when ``serve`` started no simulators."""
    base, notify_base = environ.get(ENV_URL), environ.get(ENV_NOTIFY_BASE)
    if not base or not notify_base:
        return None
    accounts = []
    with httpx.Client(timeout=10) as client:
        for family, mount in _MOUNTS.items():
            answer = client.get(f"{base}/{mount}/_control/credentials")
            answer.raise_for_status()
            fields = _credentials(family, base, answer.json(), notify_base)
            secret = Secret(json.dumps(fields))
            accounts.append(ChannelAccount(DEMO_MCH_ID, family, secret, updated_at=0))
    return SandboxAccounts(store, accounts)


def environment(run: DefaultRun, gateway_url: str) -> dict[str, str]:
    """The variables that point ``serve``'s workers at ``run``."""
    return {ENV_URL: run.base_url, ENV_NOTIFY_BASE: gateway_url}


async def open_default_run(
    store: AdminStore, *, database_url: str, environ: Mapping[str, str], now: int
) -> tuple[DefaultRun | None, DemoData | None]:
    """Seed the demo into an empty database and, in the embedded default run, start
    the simulators with the demo orders as their trades (see the module's docstring).

    The caller stops the run. Not SQLite, or channel accounts stored: no simulators.
    """
    run_them, seed = await is_default_run(store)
    state = state_path(database_url, environ)
    if state is None or not run_them:
        return None, (await seed_demo(store, now=now) if seed else None)
    run = DefaultRun(state, fresh=seed)
    await asyncio.to_thread(run.start)
    try:
        numbers = run.script(DEMO_ORDERS)
        demo = await seed_demo(store, now=now, channel_order_nos=numbers) if seed else None
    except BaseException:
        run.stop()
        raise
    return run, demo
