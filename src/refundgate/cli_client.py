"""``refundgate client …``: refund and query as a merchant, for support staff.

Credentials come from the environment only (a key on the command line would
show in ``ps`` and in shell history), and the key is never printed:

    REFUNDGATE_BASE_URL     the gateway's address, e.g. http://127.0.0.1:8080
    REFUNDGATE_MCH_ID       the merchant id (mchId)
    REFUNDGATE_KEY          the merchant's signing key
    REFUNDGATE_LOGIN_NAME   the operator refunds are made as (loginName; refunds only)
    REFUNDGATE_CLIENT_IP    clientIp recorded with refunds (default 127.0.0.1)
    REFUNDGATE_TIMEOUT      seconds to wait for an answer (default 30)

Exit status: 0 done; 1 refused or failed, nothing changed; 2 a malformed
command line; 3 the outcome of a refund is unknown (query it later): no answer,
or an answer whose signature does not verify.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

import click

from refundgate.client import (
    AuthenticationError,
    ConfigurationError,
    GatewayUnavailable,
    InvalidRequest,
    OutcomeUnknown,
    Refund,
    RefundClient,
    RefundGateError,
    RefundRefused,
    RefundStatus,
    SignatureError,
)

__all__ = ["client"]

F = TypeVar("F", bound=Callable[..., Any])

#: Exit status when a refund may or may not have been made.
OUTCOME_UNKNOWN_EXIT = 3

_LABELS: tuple[tuple[type[RefundGateError], str], ...] = (
    (OutcomeUnknown, "outcome unknown"),
    (ConfigurationError, "configuration"),
    (AuthenticationError, "not authenticated"),
    (InvalidRequest, "invalid request"),
    (RefundRefused, "refused"),
    (GatewayUnavailable, "gateway unavailable"),
)

_STATUS_TEXT = {
    RefundStatus.PENDING: "pending (accepted; the final result comes by query or notification)",
    RefundStatus.REFUNDING: "refunding (accepted; the final result comes by query or notification)",
    RefundStatus.SUCCEEDED: "succeeded",
    RefundStatus.FAILED: "failed",
    RefundStatus.UNKNOWN: "unknown status",
}


class ClientFailure(click.ClickException):
    """An SDK error as one line (and, with ``--json``, as JSON on stdout)."""

    def __init__(self, error: RefundGateError) -> None:
        super().__init__(_one_line(f"{_label(error)}: {error.message}"))

    @staticmethod
    def of(error: RefundGateError, *, refunding: bool) -> ClientFailure:
        # A refund's answer whose signature fails may hide a made refund too.
        unknown = isinstance(error, OutcomeUnknown) or (
            refunding and isinstance(error, SignatureError)
        )
        return UnknownOutcome(error) if unknown else ClientFailure(error)


class UnknownOutcome(ClientFailure):
    """A refund that may or may not have been made: its own exit status."""

    exit_code = OUTCOME_UNKNOWN_EXIT


def _label(error: RefundGateError) -> str:
    for cls, text in _LABELS:
        if isinstance(error, cls):
            return text
    return "error"


def _one_line(text: str) -> str:
    return re.sub(r"\s*[\r\n]+\s*", " ", text)


def _error_json(error: RefundGateError) -> str:
    return json.dumps(
        {
            "error": type(error).__name__,
            "message": error.message,
            "err_code": error.err_code,
            "err_code_des": error.err_code_des,
            "mch_refund_no": error.mch_refund_no,
            "retry_safe": getattr(error, "retry_safe", None),
        },
        ensure_ascii=False,
    )


def _json_option(command: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")(
        command
    )


def _describe(refund: Refund) -> list[str]:
    status = _STATUS_TEXT[refund.status]
    if refund.status is RefundStatus.UNKNOWN:
        status = f"{status} {refund.raw_status!r}"
    lines = [f"refund {refund.refund_order_id}: {status}"]
    rows = [
        ("mchRefundNo", refund.mch_refund_no),
        ("payOrderId", refund.pay_order_id),
        ("amount", f"{_money(refund)} ({refund.amount_cents} cents)"),
        ("channelId", refund.channel_id),
        ("channelOrderNo", refund.channel_order_no),
        (
            "succeededAt",
            None if refund.succeeded_at is None else refund.succeeded_at.isoformat(),
        ),
        ("failure", " ".join(filter(None, (refund.err_code, refund.err_code_des))) or None),
    ]
    lines += [f"  {name:<15} {_one_line(value)}" for name, value in rows if value]
    return lines


def _money(refund: Refund) -> str:
    return f"{refund.amount} {refund.currency}" if refund.currency else str(refund.amount)


def _run(work: Callable[[RefundClient], Refund], *, as_json: bool, refunding: bool) -> None:
    try:
        with RefundClient.from_env() as sdk:
            refund = work(sdk)
    except RefundGateError as error:
        if as_json:
            click.echo(_error_json(error))
        raise ClientFailure.of(error, refunding=refunding) from None
    if as_json:
        click.echo(json.dumps(refund.to_dict(), ensure_ascii=False))
    else:
        click.echo("\n".join(_describe(refund)))


def _cents(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    if re.fullmatch(r"[0-9]{1,10}", value) is None:
        raise click.BadParameter("must be whole minor units (cents), e.g. 1999", ctx, param)
    return int(value)


@click.group("client")
def client() -> None:
    """Refund and query as a merchant (credentials from REFUNDGATE_* variables).

    REFUNDGATE_BASE_URL, REFUNDGATE_MCH_ID and REFUNDGATE_KEY are required;
    REFUNDGATE_LOGIN_NAME too for refunds; REFUNDGATE_CLIENT_IP and
    REFUNDGATE_TIMEOUT are optional. The key is never printed.

    Exit status: 0 done; 1 refused or failed (nothing changed); 2 a malformed
    command line; 3 a refund's outcome is unknown (query it later).
    """


@client.command("refund")
@click.option("--pay-order-id", required=True, help="The paid order to refund.")
@click.option(
    "--mch-refund-no",
    required=True,
    help="Your refund number: reuse it to retry the same refund, never a new one.",
)
@click.option("--amount", default=None, help="In major units, exactly, e.g. 19.99.")
@click.option("--amount-cents", default=None, callback=_cents, help="In minor units, e.g. 1999.")
@click.option("--currency", default=None, help="Must be the order's currency if given.")
@click.option("--channel-id", default=None, help="Must be the order's channel if given.")
@click.option("--notify-url", default=None, help="Where to send the final result.")
@click.option("--client-ip", default=None, help="Recorded with the refund.")
@_json_option
def refund_command(
    pay_order_id: str,
    mch_refund_no: str,
    amount: str | None,
    amount_cents: int | None,
    currency: str | None,
    channel_id: str | None,
    notify_url: str | None,
    client_ip: str | None,
    as_json: bool,
) -> None:
    """Refund --amount or --amount-cents of a paid order."""
    if (amount is None) == (amount_cents is None):
        raise click.UsageError("give exactly one of --amount and --amount-cents")
    _run(
        lambda sdk: sdk.refund(
            pay_order_id=pay_order_id,
            mch_refund_no=mch_refund_no,
            amount=amount,
            amount_cents=amount_cents,
            currency=currency,
            channel_id=channel_id,
            notify_url=notify_url,
            client_ip=client_ip,
        ),
        as_json=as_json,
        refunding=True,
    )


@client.command("query")
@click.option("--mch-refund-no", default=None, help="Your refund number.")
@click.option("--refund-order-id", default=None, help="The gateway's refund id.")
@_json_option
def query_command(mch_refund_no: str | None, refund_order_id: str | None, as_json: bool) -> None:
    """Show a refund as it is now, by --mch-refund-no or --refund-order-id."""
    if (mch_refund_no is None) == (refund_order_id is None):
        raise click.UsageError("give exactly one of --mch-refund-no and --refund-order-id")
    _run(
        lambda sdk: sdk.query(mch_refund_no=mch_refund_no, refund_order_id=refund_order_id),
        as_json=as_json,
        refunding=False,
    )
