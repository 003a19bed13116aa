"""Bounded cost per request: admission before the body is read, and per-process byte budgets.

A `ByteBudget` is a count of bytes one process lets requests hold at once (request bodies being
received and parsed, fetched images). Taking from it never waits: a request that does not fit is
answered 429 at once, before it costs anything (a queue of large uploads would hold their memory
anyway). What a request took is held until the request ends, because the parsed body and the
fetched images live that long, and is given back by `limits_middleware` whatever happens.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from bedrock_gateway.errors import OverloadedError
from bedrock_gateway.server.app_state import LIFECYCLE

# Routes whose handlers read a body and call Bedrock: admitted before anything else happens.
_ADMITTED_METHODS = frozenset({"POST", "PUT", "PATCH"})


class ByteBudget:
    """Bytes requests of this process may hold at once; `name` is the setting that sizes it."""

    __slots__ = ("capacity", "name", "used")

    def __init__(self, capacity: int, name: str) -> None:
        self.capacity = capacity
        self.name = name
        self.used = 0

    def try_take(self, count: int) -> bool:
        if self.used + count > self.capacity:
            return False
        self.used += count
        return True

    def give(self, count: int) -> None:
        self.used -= count


class Holdings:
    """What one request took from the process's budgets; all given back when it ends."""

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held: dict[ByteBudget, int] = {}

    def take(self, budget: ByteBudget, count: int, what: str) -> None:
        """Take `count` more bytes or raise a 429 (`what` says what they are for)."""
        if count <= 0:
            return
        if not budget.try_take(count):
            raise OverloadedError(
                f"The gateway is holding as many {what} as it allows ({budget.name}); "
                "retry shortly.", code="memory_budget", retry_after=1.0)
        self._held[budget] = self._held.get(budget, 0) + count

    def give_back(self, budget: ByteBudget, count: int) -> None:
        """Return part of what was taken (an estimate that turned out too high)."""
        count = min(count, self._held.get(budget, 0))
        if count > 0:
            budget.give(count)
            self._held[budget] -= count

    def held(self, budget: ByteBudget) -> int:
        return self._held.get(budget, 0)

    def release_all(self) -> None:
        for budget, count in self._held.items():
            budget.give(count)
        self._held.clear()


HOLDINGS = web.RequestKey("holdings", Holdings)


def request_holdings(request: web.Request) -> Holdings:
    holdings = request.get(HOLDINGS)
    if holdings is None:
        holdings = request[HOLDINGS] = Holdings()
    return holdings


@web.middleware
async def limits_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Admission (the process's request cap) for requests with a body, before the body is read;
    every budget the request took is given back when it ends."""
    admitted = request.method in _ADMITTED_METHODS
    lifecycle = request.app[LIFECYCLE]
    if admitted:
        lifecycle.admit()
    try:
        return await handler(request)
    finally:
        if admitted:
            lifecycle.release()
        holdings = request.get(HOLDINGS)
        if holdings is not None:
            holdings.release_all()
