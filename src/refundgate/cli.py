"""The ``refundgate`` command line.

Every command takes ``--database-url`` (or ``REFUNDGATE_DATABASE_URL``; default
``sqlite:///refundgate.db``). Bad input gives a one-line message on stderr and
exit status 1 (2 for a malformed command line).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click
import uvicorn
from uvicorn.supervisors import Multiprocess

from refundgate.bootstrap import configure_logging
from refundgate.cli_accounts import channel_account
from refundgate.cli_client import client
from refundgate.cli_notify import notify
from refundgate.cli_refunds import no_jobs_option, refund, worker
from refundgate.cli_sandbox import sandbox
from refundgate.cli_support import database_option, migrated, settings_for, shown, with_store
from refundgate.config import Settings
from refundgate.domain.channels import family_of
from refundgate.domain.merchant import Merchant, Operator
from refundgate.domain.model import PayOrder, SandboxOutcome
from refundgate.domain.secret import Secret
from refundgate.ports import AdminStore
from refundgate.protocol.errors import ProtocolError
from refundgate.protocol.fields import MAX_AMOUNT, REFUND_FIELDS, is_notify_url
from refundgate.sandbox.default_run import DefaultRun, open_default_run
from refundgate.sandbox.default_run import environment as sandbox_environment
from refundgate.sandbox.demo import DemoData
from refundgate.system import SystemClock

__all__ = ["cli", "main"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


_database_option = database_option
_shown = shown
_settings = settings_for
_with_store = with_store
_migrated = migrated


def _now() -> int:
    return SystemClock().now_ms()


@click.group()
@click.version_option(package_name="refundgate")
@_database_option
def cli(database_url: str | None) -> None:
    """refundgate: a refund gateway speaking the IOTPay v1 refund interface."""


@cli.command()
@_database_option
@click.pass_context
def init(ctx: click.Context, database_url: str | None) -> None:
    """Create or upgrade the database schema."""
    settings = _settings(ctx, database_url)
    _with_store(settings, _migrated)
    click.echo(f"database ready: {_shown(settings.database_url)}")


@cli.group()
def merchant() -> None:
    """Manage merchants."""


def _notify_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not is_notify_url(value):
        raise click.BadParameter("must be an http(s) URL without '?'", ctx, param)
    return value


def _field(name: str) -> Callable[[click.Context, click.Parameter, str], str]:
    """Check an option by the protocol's rule for field ``name``, so that what is
    stored can later be named in a request."""
    spec = next(spec for spec in REFUND_FIELDS if spec.name == name)

    def check(ctx: click.Context, param: click.Parameter, value: str) -> str:
        try:
            spec.check({name: value})
        except ProtocolError as exc:
            message = exc.message.replace(f"request params[{name}] ", "")
            raise click.BadParameter(message, ctx, param) from None
        return value

    return check


def _key(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not 8 <= len(value) <= 128 or not value.isascii() or not value.isprintable():
        raise click.BadParameter("must be 8-128 printable ASCII characters", ctx, param)
    return value


@merchant.command("add")
@click.option("--mch-id", required=True, callback=_field("mchId"))
@click.option("--key", required=True, callback=_key, help="The signing key.")
@click.option("--name", default="")
@click.option("--notify-url", default=None, callback=_notify_url)
@_database_option
@click.pass_context
def merchant_add(
    ctx: click.Context,
    mch_id: str,
    key: str,
    name: str,
    notify_url: str | None,
    database_url: str | None,
) -> None:
    """Add a merchant and its signing key."""
    record = Merchant(mch_id, Secret(key), name=name, notify_url=notify_url)
    _with_store(_settings(ctx, database_url), lambda store: store.add_merchant(record, now=_now()))
    click.echo(f"merchant {mch_id} added")


@cli.group()
def operator() -> None:
    """Manage the login names that may act for a merchant."""


@operator.command("add")
@click.option("--mch-id", required=True, callback=_field("mchId"))
@click.option("--login-name", required=True, callback=_field("loginName"))
@click.option("--no-refund", is_flag=True, help="May sign in but not refund.")
@_database_option
@click.pass_context
def operator_add(
    ctx: click.Context, mch_id: str, login_name: str, no_refund: bool, database_url: str | None
) -> None:
    """Add an operator (a request's loginName) to a merchant."""
    record = Operator(mch_id, login_name, may_refund=not no_refund)
    _with_store(_settings(ctx, database_url), lambda store: store.add_operator(record, now=_now()))
    click.echo(f"operator {login_name} of merchant {mch_id} added")


@cli.group()
def order() -> None:
    """Manage paid orders."""


def _paid_at(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("must be an ISO-8601 date and time", ctx, param) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1000 + moment.microsecond // 1000


def _currency(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if len(value) != 3 or not value.isalpha() or not value.isascii():
        raise click.BadParameter("must be a 3-letter ISO 4217 code", ctx, param)
    return value.upper()


@order.command("add")
@click.option("--mch-id", required=True, callback=_field("mchId"))
@click.option("--pay-order-id", required=True, callback=_field("payOrderId"))
@click.option("--channel-id", required=True, callback=_field("channelId"))
@click.option("--amount", required=True, type=click.IntRange(1, MAX_AMOUNT), help="In cents.")
@click.option("--currency", default="CAD", show_default=True, callback=_currency)
@click.option("--paid-at", default=None, callback=_paid_at, help="ISO-8601 [default: now].")
@click.option(
    "--sandbox-outcome",
    type=click.Choice([outcome.value for outcome in SandboxOutcome]),
    default=None,
    help="What the sandbox channel does with refunds of this order [default: succeed].",
)
@click.option(
    "--channel-order-no", default=None, help="The channel's own payment id (UnionPay queryId)."
)
@_database_option
@click.pass_context
def order_add(
    ctx: click.Context,
    mch_id: str,
    pay_order_id: str,
    channel_id: str,
    amount: int,
    currency: str,
    paid_at: int | None,
    sandbox_outcome: str | None,
    channel_order_no: str | None,
    database_url: str | None,
) -> None:
    """Record a paid order (any IOTPay channel id; card ones are not refundable here)."""
    record = PayOrder(
        mch_id=mch_id,
        pay_order_id=pay_order_id,
        channel_id=channel_id,
        currency=currency,
        amount=amount,
        paid_at=paid_at if paid_at is not None else _now(),
        sandbox_outcome=SandboxOutcome(sandbox_outcome) if sandbox_outcome else None,
        channel_order_no=channel_order_no,
    )
    _with_store(_settings(ctx, database_url), lambda store: store.add_order(record))
    refundable = (
        ""
        if family_of(channel_id)
        else " (not refundable here: not WeChat Pay, Alipay or UnionPay)"
    )
    click.echo(f"order {pay_order_id} added{refundable}")


async def _default_run(
    store: AdminStore, settings: Settings
) -> tuple[DefaultRun | None, DemoData | None]:
    return await open_default_run(
        store, database_url=settings.database_url, environ=os.environ, now=_now()
    )


def _loopback(host: str, port: int) -> str:
    """The gateway's own address for channel callbacks (loopback when bound to all)."""
    host = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host  # noqa: S104 (a comparison)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _print_demo(demo: DemoData, base_url: str) -> None:
    click.echo("Demo data seeded (the key is shown only now):")
    click.echo(f"  mchId      {demo.mch_id}")
    click.echo(f"  key        {demo.key.reveal()}")
    click.echo(f"  loginName  {demo.login_name}")
    for pay_order_id, channel_id, amount, outcome in demo.orders:
        line = f"{pay_order_id:<17} {channel_id:<10} {amount:>6} CAD  sandbox: {outcome.value}"
        click.echo(f"  order      {line}")
    click.echo("Refund 1.00 CAD of DEMO-ALI-0001:")
    click.echo(f"  {demo.curl(base_url)}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--server",
    type=click.Choice(["uvicorn", "granian"]),
    default="uvicorn",
    show_default=True,
    help="uvicorn (ASGI, one process per worker) or granian (RSGI: its HTTP work runs"
    " outside Python; the faster here, see README Performance).",
)
@_database_option
@click.pass_context
def serve(
    ctx: click.Context, host: str, port: int, workers: int, server: str, database_url: str | None
) -> None:
    """Run the gateway (migrating, and seeding demo data into an empty database)."""
    settings = _settings(ctx, database_url)
    configure_logging(settings.log_level)
    os.environ.update(settings.to_environment())
    config = uvicorn.Config(
        "refundgate.bootstrap:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        # clientIp is a signed field of the request, never the peer address, so
        # uvicorn's X-Forwarded-For rewriting would be work on every request for nothing.
        proxy_headers=False,
    )
    # Bind first: a start that cannot listen must not spend the one-time demo key.
    sock = config.bind_socket()
    bound_port = sock.getsockname()[1]
    run, demo = _with_store(settings, lambda store: _default_run(store, settings))
    if run is not None:  # the embedded default run: the demo's channels are the simulators
        os.environ.update(sandbox_environment(run, _loopback(host, bound_port)))
        click.echo(f"channel simulators on {run.base_url}/{{wechat,alipay,unionpay}}", err=True)
    if demo is not None:
        _print_demo(demo, f"http://{host}:{bound_port}")
    click.echo(
        f"refundgate serving on http://{host}:{bound_port} with {workers} worker(s)"
        + (" (granian)" if server == "granian" else ""),
        err=True,
    )
    try:
        if server == "granian":
            sock.close()  # granian binds the address itself, in its own way
            _serve_granian(host, bound_port, workers)
        else:
            _serve_uvicorn(config, sock, workers)
    except KeyboardInterrupt:
        pass
    finally:
        if run is not None:
            run.stop()


def _serve_uvicorn(config: uvicorn.Config, sock: Any, workers: int) -> None:
    server = uvicorn.Server(config)
    if workers == 1:
        server.run(sockets=[sock])
    else:
        Multiprocess(config, sockets=[sock]).run()
    if workers == 1 and not server.started:
        raise click.ClickException("the server did not start (see the log above)")


def _serve_granian(host: str, port: int, workers: int) -> None:
    """Granian, RSGI: worker processes under a supervisor that stops them on SIGTERM."""
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.log import LogLevels
    from granian.server import Server as Granian

    # Workers start from a fresh interpreter: a fork would copy this process's
    # threads' state (the simulators' loop, locks they hold) into each worker,
    # and a worker so made could hang on SIGTERM.
    multiprocessing.set_start_method("spawn", force=True)
    Granian(
        "refundgate.bootstrap:worker_app_from_environment",
        address=host,
        port=port,
        interface=Interfaces.RSGI,
        workers=workers,
        loop=Loops.uvloop,
        http=HTTPModes.http1,
        websockets=False,
        factory=True,
        log_level=LogLevels.warning,
        log_access=False,
    ).serve()


cli.add_command(client)
cli.add_command(channel_account)
cli.add_command(sandbox)
cli.add_command(refund)
cli.add_command(worker)
serve.params.append(no_jobs_option)
cli.add_command(notify)


def main() -> None:
    """Entry point: one-line errors instead of usage dumps."""
    try:
        code = cli.main(standalone_mode=False)
    except click.ClickException as exc:
        click.echo(f"refundgate: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("refundgate: aborted", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
