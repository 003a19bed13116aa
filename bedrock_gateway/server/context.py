"""Per-request facts gathered for telemetry and the access log (never content, never keys)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from aiohttp import web


@dataclass(slots=True)
class RequestContext:
    request_id: str
    route: str
    started: float = field(default_factory=time.perf_counter)
    model: str | None = None
    max_tokens: int | None = None
    region: str | None = None
    stream: bool = False
    ttft_s: float | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cache_read: int = 0
    cache_write: int = 0
    finish_reason: str | None = None
    error_code: str | None = None
    status: int | None = None
    bytes_sent: int = 0
    disconnected: bool = False
    key_id: str | None = None  # the caller's key id (never the secret)
    response_model: str | None = None  # the Bedrock model id that answered
    session_id: str | None = None  # X-Claude-Code-Session-Id, when sane

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def record_usage(self, usage: dict | None) -> None:
        if not usage:
            return
        self.tokens_in = int(usage.get("prompt_tokens") or 0)
        self.tokens_out = int(usage.get("completion_tokens") or 0)
        details = usage.get("prompt_tokens_details") or {}
        self.cache_read = int(details.get("cached_tokens") or 0)
        self.cache_write = int(details.get("cache_write_tokens") or 0)


REQUEST_CONTEXT = web.RequestKey("request_context", RequestContext)


def request_context(request: web.Request) -> RequestContext:
    ctx = request.get(REQUEST_CONTEXT)
    if ctx is None:  # requests served without the telemetry middleware (never in production)
        ctx = RequestContext(request_id="-", route="other")
        request[REQUEST_CONTEXT] = ctx
    return ctx
