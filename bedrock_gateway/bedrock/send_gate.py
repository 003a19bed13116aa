"""Holding a request's Bedrock calls at the wire until a check the request started has answered.

botocore spends a millisecond or more preparing a call (validation, serialization, signing)
before its bytes leave. A check that is a round trip of its own (the key's limits in Redis) can
run meanwhile: the request `hold`s its sends on the check, and the `before-send` event of every
`bedrock-runtime` client awaits it. A check that refuses raises its error there, so nothing is
sent; the router sees `SendRefused` and passes the error on without counting it against the
region (it is not Bedrock's).

The hold is a context variable: it belongs to the request's task (and the tasks it starts), so
calls made for other requests, or for the gateway itself, never wait on it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from bedrock_gateway.errors import GatewayError

Check = Callable[[], Awaitable[None]]


class SendRefused(Exception):
    """The request's check refused it before its call was sent: `error` is what to answer."""

    def __init__(self, error: GatewayError) -> None:
        super().__init__(error.message)
        self.error = error


class SendGate:
    def __init__(self) -> None:
        self._check: ContextVar[Check | None] = ContextVar("bedrock_send_check", default=None)

    def hold(self, check: Check) -> None:
        """The current request's Bedrock calls wait for `check` (which raises a refusal)."""
        self._check.set(check)

    async def before_send(self, **_: Any) -> None:
        """The SDK's `before-send` hook (clients.py registers it on every runtime client)."""
        check = self._check.get()
        if check is None:
            return
        try:
            await check()
        except GatewayError as error:
            raise SendRefused(error) from None
