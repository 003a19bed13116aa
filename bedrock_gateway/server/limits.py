"""Bounded cost per request: admission before the body is read, budgets given back at the end.

`limits_middleware` admits requests with a body against the process's request cap before their
body is read, and gives back whatever the request took from the byte budgets (byte_budget.py)
when it ends, whatever happens.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from bedrock_gateway.server.app_state import LIFECYCLE
from bedrock_gateway.server.byte_budget import Holdings

HOLDINGS = web.RequestKey("holdings", Holdings)
# Routes whose handlers read a body and call Bedrock: admitted before anything else happens.
_ADMITTED_METHODS = frozenset({"POST", "PUT", "PATCH"})


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
