"""``refundgate notify``: the delivery log of merchant notifications, and resending them.

``resend`` delivers at once from this process, under this deployment's
destination rules (``REFUNDGATE_NOTIFY_ALLOW_PRIVATE``); if that attempt fails,
the notification keeps a fresh retry schedule and the gateway's workers carry on.
Nothing printed holds a key or a signature.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import click

from refundgate.cli_support import settings_for, with_store
from refundgate.notify import build_sender
from refundgate.ports import AdminStore, DeliveryAttempt, DeliveryRecord, NotificationState
from refundgate.service import Deps
from refundgate.service.notifications import NotificationNotFound, resend
from refundgate.system import RandomIds, SystemClock

__all__ = ["notify"]


def _shown_url(url: str) -> str:
    """``url`` without any user:password part."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _when(at: int) -> str:
    return datetime.fromtimestamp(at / 1000, UTC).isoformat(timespec="seconds")


def _describe(attempt: DeliveryAttempt) -> str:
    answer = f"HTTP {attempt.http_status}" if attempt.http_status is not None else "no answer"
    detail = attempt.error or (attempt.response_excerpt or "").strip()[:60]
    return f"attempt {attempt.attempt} {attempt.outcome.value:<9} {answer}  {detail}".rstrip()


def _line(record: DeliveryRecord) -> str:
    attempt = record.attempt
    return (
        f"{_when(attempt.at)}  {record.refund_order_id:<32} {_describe(attempt)}"
        f"  {_shown_url(attempt.url)}"
    )


@click.group()
def notify() -> None:
    """Merchant notifications: the delivery log, and resending."""


@notify.command("list")
@click.option("--refund-order-id", default=None, help="Only this refund's deliveries.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--database-url", envvar="REFUNDGATE_DATABASE_URL", default=None)
@click.pass_context
def notify_list(
    ctx: click.Context, refund_order_id: str | None, limit: int, database_url: str | None
) -> None:
    """Show delivery attempts, newest first."""
    records: list[DeliveryRecord] = with_store(
        settings_for(ctx, database_url),
        lambda store: store.notification_deliveries(refund_order_id, limit=limit),
    )
    if not records:
        click.echo("no delivery attempts")
    for record in records:
        click.echo(_line(record))


@notify.command("resend")
@click.option("--refund-order-id", required=True, help="The refund whose notification to send.")
@click.option("--database-url", envvar="REFUNDGATE_DATABASE_URL", default=None)
@click.pass_context
def notify_resend(ctx: click.Context, refund_order_id: str, database_url: str | None) -> None:
    """Send a refund's notification again now, with a fresh retry schedule."""
    settings = settings_for(ctx, database_url)

    async def send_again(store: AdminStore) -> list[DeliveryAttempt]:
        sender = build_sender(
            settings.notify_timeout_s, allow_private=settings.notify_allow_private
        )
        deps = Deps(store=store, channels={}, clock=SystemClock(), ids=RandomIds(), notifier=sender)
        try:
            return await resend(deps, refund_order_id)
        except NotificationNotFound:
            raise click.ClickException(
                f"no notification for refund {refund_order_id}"
                " (not final yet, or no notifyUrl was known)"
            ) from None
        finally:
            await sender.aclose()

    attempts: list[DeliveryAttempt] = with_store(settings, send_again)
    for attempt in attempts:
        click.echo(f"{refund_order_id} {_describe(attempt)}")
    if not any(attempt.outcome is NotificationState.DELIVERED for attempt in attempts):
        raise click.ClickException("not delivered; it will be retried on the schedule")
