"""``refundgate sandbox serve``: the three channel simulators, standalone, on one port.

WeChat Pay under ``/wechat``, Alipay under ``/alipay``, UnionPay under
``/unionpay``, each with its ``_control`` API (trades, faults, refunds,
credentials). Their keys are made afresh at each start; read them from
``GET /<channel>/_control/credentials`` and give them to ``channel-account set``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import click
import uvicorn

from refundgate.sandbox.alipay.simulator import AlipaySimulator
from refundgate.sandbox.simulator import Mounted
from refundgate.sandbox.simulator.persist import StateFile
from refundgate.sandbox.unionpay.simulator import UnionPaySimulator
from refundgate.sandbox.wechat.simulator import WeChatSimulator

__all__ = ["sandbox", "simulators"]


def simulators() -> Mounted:
    """A fresh WeChat Pay, Alipay and UnionPay simulator, mounted side by side."""
    return Mounted(WeChatSimulator().sim, AlipaySimulator().sim, UnionPaySimulator().sim)


@click.group()
def sandbox() -> None:
    """The channel simulators (for tests, demos and integration work)."""


@sandbox.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8090, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--state",
    envvar="REFUNDGATE_SANDBOX_STATE",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Keep trades and refunds in this JSON file, read back at the next start.",
)
def serve(host: str, port: int, state: Path | None) -> None:
    """Run the simulators under /wechat, /alipay and /unionpay (sandbox keys only)."""
    app = simulators()
    if state is not None:
        try:
            StateFile(state).attach(*app.simulators)
        except (OSError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    sock = config.bind_socket()
    bound = sock.getsockname()[1]
    click.echo(f"channel simulators on http://{host}:{bound}/{{wechat,alipay,unionpay}}", err=True)
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run(sockets=[sock])
