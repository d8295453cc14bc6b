"""The asyncio client: :class:`AsyncRefundClient`.

With the gateway's demo (``python3 dev.py run``) and its REFUNDGATE_*
variables set (see ``ENVIRONMENT``)::

    import asyncio
    from decimal import Decimal

    from refundgate.client import AsyncRefundClient, RefundStatus


    async def main() -> None:
        async with AsyncRefundClient.from_env() as client:
            refund = await client.refund(
                pay_order_id="DEMO-ALI-0001", mch_refund_no="R-1001", amount=Decimal("19.99")
            )
            assert refund.status is RefundStatus.SUCCEEDED
            assert await client.query(mch_refund_no="R-1001") == refund


    asyncio.run(main())
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from types import TracebackType
from typing import Any

import httpx

from refundgate.client._wire import (
    DEFAULT_TIMEOUT,
    Attempts,
    Call,
    Failure,
    Settings,
    interpret,
    query_call,
    refund_call,
    settings_from_env,
    transport_failure,
)
from refundgate.client.errors import RefundGateError
from refundgate.client.results import Refund
from refundgate.client.retries import RetryPolicy

__all__ = ["AsyncRefundClient"]


class AsyncRefundClient:
    """Refunds and queries, signed, sent, retried safely, and checked.

    Every option is a keyword:

    * ``base_url``, ``mch_id``, ``key``: where the gateway is, who you are, and
      the signing key (kept out of ``repr``, errors and logs);
    * ``login_name``: the operator refunds are made as (also per call);
    * ``client_ip`` (default ``127.0.0.1``) and ``device`` (default
      ``refundgate-python/<version>``): recorded with each refund, also per call;
    * ``strict``: require every ``retCode=SUCCESS`` answer to be signed (a
      signature that is present is always checked);
    * ``timeout``: seconds or an ``httpx.Timeout`` (default 30 s, 5 s to connect);
    * ``retries``: a :class:`RetryPolicy` (default 3 tries in all) and ``sleep``,
      the function that waits between them;
    * ``transport`` or ``http_client``: an ``httpx`` transport, or a whole
      ``httpx.AsyncClient`` (which this client then does not close).
    """

    def __init__(
        self,
        *,
        base_url: str,
        mch_id: str,
        key: str,
        login_name: str | None = None,
        client_ip: str = "127.0.0.1",
        device: str | None = None,
        strict: bool = False,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retries: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._settings = Settings.checked(
            base_url=base_url,
            mch_id=mch_id,
            key=key,
            login_name=login_name,
            client_ip=client_ip,
            device=device,
            strict=strict,
        )
        self._retries = retries or RetryPolicy()
        self._sleep = sleep
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(
            transport=transport, timeout=timeout, follow_redirects=False
        )

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **options: Any
    ) -> AsyncRefundClient:
        """A client configured from ``REFUNDGATE_*`` variables (``os.environ`` by
        default); ``options`` are passed on and win over the environment."""
        return cls(**{**settings_from_env(environ), **options})

    def __repr__(self) -> str:
        settings = self._settings
        return (
            f"AsyncRefundClient(base_url={settings.base_url!r}, mch_id={settings.mch_id!r},"
            f" login_name={settings.login_name!r})"
        )

    async def refund(
        self,
        *,
        pay_order_id: str,
        mch_refund_no: str,
        amount: Decimal | str | None = None,
        amount_cents: int | None = None,
        currency: str | None = None,
        channel_id: str | None = None,
        notify_url: str | None = None,
        login_name: str | None = None,
        client_ip: str | None = None,
        device: str | None = None,
    ) -> Refund:
        """Refund ``amount`` (major units, ``Decimal`` or ``str``) or ``amount_cents``
        of ``pay_order_id``, under your own ``mch_refund_no``.

        Choose ``mch_refund_no`` once, store it, and use it for every try of this
        refund: the gateway makes at most one refund per number. Timeouts and
        connection errors are retried here with that same number; if no try gets
        an answer, :class:`~refundgate.client.OutcomeUnknown` says to query later.

        Returns the refund, accepted: check ``status`` (SUCCEEDED, or PENDING /
        REFUNDING until the final result comes by query or notification).
        """
        call = refund_call(
            self._settings,
            pay_order_id=pay_order_id,
            mch_refund_no=mch_refund_no,
            amount=amount,
            amount_cents=amount_cents,
            currency=currency,
            channel_id=channel_id,
            notify_url=notify_url,
            login_name=login_name,
            client_ip=client_ip,
            device=device,
        )
        return await self._send(call)

    async def query(
        self, *, mch_refund_no: str | None = None, refund_order_id: str | None = None
    ) -> Refund:
        """The refund named by ``mch_refund_no`` or ``refund_order_id``, as it is now.

        A refund that failed is returned with status FAILED and ``err_code_des``
        saying why; an unknown one raises :class:`~refundgate.client.RefundNotFound`.
        """
        call = query_call(
            self._settings, mch_refund_no=mch_refund_no, refund_order_id=refund_order_id
        )
        return await self._send(call)

    async def _send(self, call: Call) -> Refund:
        attempts = Attempts(call, self._retries)
        while True:
            try:
                response = await self._http.post(
                    call.url, content=call.body, headers=self._settings.headers()
                )
                return interpret(self._settings, call, response.status_code, response.content)
            except httpx.RequestError as exc:
                delay = attempts.failed(transport_failure(call, exc))
            except Failure as failure:
                delay = attempts.failed(failure)
            except RefundGateError as error:
                attempts.answered(error)
                raise
            await self._sleep(delay)

    async def aclose(self) -> None:
        """Close the connections (not those of an ``http_client`` passed in)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncRefundClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
