"""``refundgate refund list|show|resolve`` (review and manual resolution) and ``refundgate worker``.

``resolve`` is an operator's decision: it is recorded as an event with
``--login-name`` and ``--reason``, balances follow, and a refund already final
is refused with one line and nothing changed. ``worker`` runs the background
jobs (reconciler, notifier) until stopped; ``serve`` runs them too unless
``--no-jobs`` (or ``REFUNDGATE_JOBS=off``).
"""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import UTC, datetime

import click

from refundgate.bootstrap import build_deps, configure_logging
from refundgate.cli_support import migrated, settings_for, with_store
from refundgate.domain.model import Refund, RefundStatus
from refundgate.ports import AdminStore, ChannelExchange, RefundEvent
from refundgate.service.deps import Deps
from refundgate.service.jobs import run_jobs, run_round
from refundgate.service.review import resolve_refund
from refundgate.system import RandomIds, SystemClock
from refundgate.worker import background_jobs, jobs_gate

__all__ = ["no_jobs_option", "refund", "worker"]

_STATUSES = [status.name.lower() for status in RefundStatus]


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@click.group()
def refund() -> None:
    """Refunds: list them, show one's history, resolve one under review."""


@refund.command("list")
@click.option("--status", type=click.Choice(_STATUSES), default=None, help="Only this status.")
@click.option("--mch-id", default=None, help="Only this merchant's refunds.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000))
@click.pass_context
def refund_list(ctx: click.Context, status: str | None, mch_id: str | None, limit: int) -> None:
    """List refunds, newest first."""
    wanted = RefundStatus[status.upper()] if status else None

    async def work(store: AdminStore) -> list[Refund]:
        return await store.list_refunds(status=wanted, mch_id=mch_id, limit=limit)

    refunds = with_store(settings_for(ctx, None), work)
    for item in refunds:
        click.echo(
            f"{item.refund_order_id:<28} {item.mch_id:<10} {item.mch_refund_no:<20}"
            f" {item.amount:>10} {item.currency} {item.status.name:<10} {_when(item.updated_at)}"
        )
    if not refunds:
        click.echo("no refunds", err=True)


@refund.command("show")
@click.argument("refund_order_id")
@click.option("--calls", is_flag=True, help="Also print each channel call's request and answer.")
@click.pass_context
def refund_show(ctx: click.Context, refund_order_id: str, calls: bool) -> None:
    """Show a refund, its full event history and the calls made to its channel."""

    async def work(
        store: AdminStore,
    ) -> tuple[Refund | None, list[RefundEvent], list[ChannelExchange]]:
        return (
            await store.get_refund(refund_order_id),
            await store.refund_events(refund_order_id),
            await store.channel_exchanges(refund_order_id),
        )

    found, events, exchanges = with_store(settings_for(ctx, None), work)
    if found is None:
        raise click.ClickException(f"no refund {refund_order_id}")
    _print_refund(found)
    click.echo("events:")
    for event in events:
        who = f" by {event.login_name}" if event.login_name else ""
        move = f"{event.from_status or '-'} -> {event.to_status}"
        click.echo(f"  {_when(event.at)}  {event.kind:<9} {move:<22}{who}: {event.reason}")
        if event.detail:
            click.echo(f"      {event.detail}")
    _print_exchanges(exchanges, full=calls)


def _print_exchanges(exchanges: list[ChannelExchange], *, full: bool) -> None:
    click.echo("channel calls:" if exchanges else "channel calls: none recorded")
    for exchange in exchanges:
        status = "-" if exchange.status_code is None else str(exchange.status_code)
        error = f"  error: {exchange.error}" if exchange.error else ""
        click.echo(
            f"  {_when(exchange.at)}  {exchange.family:<8} {exchange.operation:<34}"
            f" HTTP {status}{error}"
        )
        if full:
            click.echo(f"      sent:     {exchange.request}")
            click.echo(f"      received: {exchange.answer or '-'}")


def _print_refund(item: Refund) -> None:
    rows = [
        ("refundOrderId", item.refund_order_id),
        ("mchId", item.mch_id),
        ("mchRefundNo", item.mch_refund_no),
        ("payOrderId", item.pay_order_id),
        ("channelId", item.channel_id),
        ("amount", f"{item.amount} {item.currency}"),
        ("status", item.status.name),
        ("channelOrderNo", item.channel_refund_id or "-"),
        ("error", f"{item.err_code} {item.err_msg or ''}".strip() if item.err_code else "-"),
        ("created", _when(item.created_at)),
        ("updated", _when(item.updated_at)),
    ]
    for name, value in rows:
        click.echo(f"{name:<15} {value}")


def _login_name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not (1 <= len(value) <= 32 and value.isprintable() and " " not in value):
        raise click.BadParameter("1 to 32 printable characters, no spaces")
    return value


def _reason(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not value.strip() or len(value) > 500:
        raise click.BadParameter("say why, in at most 500 characters")
    return value.strip()


@refund.command("resolve")
@click.argument("refund_order_id")
@click.option("--succeeded/--failed", "succeeded", default=None, help="The decision.")
@click.option("--reason", required=True, callback=_reason, help="Why (recorded).")
@click.option("--login-name", required=True, callback=_login_name, help="Who decides.")
@click.pass_context
def refund_resolve(
    ctx: click.Context, refund_order_id: str, succeeded: bool | None, reason: str, login_name: str
) -> None:
    """Resolve a refund in review (or processing, or pending) as succeeded or failed."""
    if succeeded is None:
        raise click.UsageError("say --succeeded or --failed")

    async def work(store: AdminStore) -> Refund:
        deps = Deps(store, {}, SystemClock(), RandomIds())
        return await resolve_refund(
            deps, refund_order_id, succeeded=succeeded, reason=reason, login_name=login_name
        )

    resolved = with_store(settings_for(ctx, None), work)
    click.echo(f"refund {resolved.refund_order_id} is {resolved.status.name}")


@click.command()
@click.option("--interval-ms", default=1000, show_default=True, type=click.IntRange(10, 60_000))
@click.option("--once", is_flag=True, help="Run the jobs until nothing is due, then exit.")
@click.pass_context
def worker(ctx: click.Context, interval_ms: int, once: bool) -> None:
    """Run the background jobs (reconciler, notifier) until stopped (SIGTERM, Ctrl-C)."""
    settings = settings_for(ctx, None)
    configure_logging(settings.log_level)
    with_store(settings, migrated)
    gate = jobs_gate(settings.database_url)
    if gate is not None and not once:
        click.echo("on SQLite only the process holding the jobs lock runs them", err=True)

    async def run() -> None:
        deps = build_deps(settings, environ=os.environ)
        jobs = background_jobs(deps)
        try:
            if once:
                if gate is not None and not gate():
                    click.echo("another process holds the jobs lock: nothing done", err=True)
                    return
                while await run_round(jobs, deps.clock) > 0:
                    pass
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop.set)
            await run_jobs(
                jobs, clock=deps.clock, stop=stop, interval_s=interval_ms / 1000, gate=gate
            )
        finally:
            await _close(deps)

    asyncio.run(run())


async def _close(deps: Deps) -> None:
    await deps.store.close()
    if deps.resolver is not None:
        await deps.resolver.aclose()
    if deps.notifier is not None:
        await deps.notifier.aclose()


def _no_jobs(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:  # read by the server processes' app factory (refundgate.worker.jobs_enabled)
        os.environ["REFUNDGATE_JOBS"] = "off"
    return value


#: ``serve --no-jobs``: added to ``serve`` by :func:`refundgate.cli` in one line.
no_jobs_option = click.Option(
    ["--no-jobs"],
    is_flag=True,
    expose_value=False,
    callback=_no_jobs,
    help="Do not run the reconciler and notifier here (dedicated workers run them).",
)
