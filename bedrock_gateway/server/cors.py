"""CORS for browser clients, as the incumbent offers it (`ALLOWED_ORIGINS`, default `*`).

- A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered here,
  before authentication: browsers never send credentials on a preflight.
- Every other response to an allowed origin (JSON, errors, SSE streams) gets
  `Access-Control-Allow-Origin` and the headers clients read (`X-Request-Id`, `Retry-After`)
  exposed, from one `on_response_prepare` hook.
- `Access-Control-Allow-Credentials` is never sent: keys travel in the `Authorization` header,
  which needs no credentials mode, and credentials with `*` would be a browser-visible hole.
- A specific origin list answers with that origin and `Vary: Origin`, so caches keep them apart.
- With `ALLOWED_ORIGINS` empty, CORS is off: no headers, preflights get the normal 401/405.
"""

from __future__ import annotations

import re

from aiohttp import web

ALLOWED_METHODS = "GET, POST, OPTIONS"
EXPOSED_HEADERS = "X-Request-Id, Retry-After"
MAX_AGE_SECONDS = "600"
# A comma list of header names (RFC 9110 tokens), bounded: echoed back to the browser.
_HEADER_LIST = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*,\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+)*")
_MAX_REQUEST_HEADERS_LEN = 2048


class Cors:
    def __init__(self, origins: tuple[str, ...]) -> None:
        self.any_origin = "*" in origins
        self.origins = frozenset(origins)

    @property
    def enabled(self) -> bool:
        return bool(self.origins)

    def allow_origin(self, origin: str | None) -> str | None:
        """The Access-Control-Allow-Origin value for this Origin, or None (not allowed)."""
        if not origin:
            return None
        if self.any_origin:
            return "*"
        return origin if origin in self.origins else None

    @web.middleware
    async def preflight(self, request: web.Request, handler) -> web.StreamResponse:
        headers = request.headers
        if (request.method != "OPTIONS" or "Origin" not in headers
                or "Access-Control-Request-Method" not in headers):
            return await handler(request)
        allowed = self.allow_origin(headers["Origin"])
        if allowed is None:
            return web.Response(status=403, text="CORS: origin not allowed\n")
        response = web.Response(status=204)
        response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
        requested = headers.get("Access-Control-Request-Headers", "").strip()
        if requested and len(requested) <= _MAX_REQUEST_HEADERS_LEN and _HEADER_LIST.fullmatch(
                requested):
            response.headers["Access-Control-Allow-Headers"] = requested
        response.headers["Access-Control-Max-Age"] = MAX_AGE_SECONDS
        return response

    async def on_response_prepare(self, request: web.Request,
                                  response: web.StreamResponse) -> None:
        allowed = self.allow_origin(request.headers.get("Origin"))
        if allowed is None:
            return
        response.headers["Access-Control-Allow-Origin"] = allowed
        if allowed != "*":
            response.headers.add("Vary", "Origin")
        if request.method != "OPTIONS":
            response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
