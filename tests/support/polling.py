"""The one poller of the test suite: `eventually()`.

Background work (settling, refreshes, cooldowns, exports, a stream's upstream side closing)
finishes some time after the request that caused it. Tests never sleep for a guessed time: they
poll a check until it holds, with a generous bound, so a loaded machine is only slower, never
wrong.

    await eventually(lambda: emulator.open_streams_are(0))
    usage = await eventually(lambda: usage_counted(root, key_id, 3), within=5)

A check is a callable (plain or async) that returns a truthy value when the condition holds; an
`AssertionError` raised by it counts as "not yet". The first truthy value is returned. When the
bound passes, `eventually` raises AssertionError naming what was awaited and the last outcome.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")

DEFAULT_WITHIN_S = 10.0
DEFAULT_INTERVAL_S = 0.05


@overload
async def eventually(check: Callable[[], Awaitable[T | None]], *, within: float = ...,
                     interval: float = ..., what: str | None = ...) -> T: ...


@overload
async def eventually(check: Callable[[], T | None], *, within: float = ...,
                     interval: float = ..., what: str | None = ...) -> T: ...


async def eventually(check: Callable[[], Any], *, within: float = DEFAULT_WITHIN_S,
                     interval: float = DEFAULT_INTERVAL_S, what: str | None = None) -> Any:
    """Call `check` until it returns a truthy value (returned) or `within` seconds pass."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        failure: AssertionError | None = None
        try:
            outcome = check()
            if inspect.isawaitable(outcome):
                outcome = await outcome
        except AssertionError as exc:
            failure, outcome = exc, None
        if failure is None and outcome:
            return outcome
        if loop.time() >= deadline:
            label = what or getattr(check, "__name__", "condition")
            last = f"{failure}" if failure is not None else f"{outcome!r}"
            raise AssertionError(
                f"{label} did not hold within {within} s (last: {last[:500]})") from failure
        await asyncio.sleep(interval)
