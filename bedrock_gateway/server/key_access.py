"""Who is calling, and may they: key resolution for the auth middleware and the per-request
limit check every data route makes before its Bedrock call.

Static keys (API_KEY and its other sources) are unlimited principals named `static-<8 hex of
their SHA-256>`. Virtual keys (`bgw-<id>-<random>`) are found by id, checked by hash in constant
time, and run through the limiter: a refusal is a 429 (limits, budgets) or 403 (model) from the
error table; an admitted request reserves its token estimate and is settled in the background
with Bedrock's usage when it ends (streams included). The x-ratelimit-* headers go on every
response of a key with limits, errors and streams included.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from bedrock_gateway.auth import ApiKeyStore
from bedrock_gateway.errors import (
    AuthenticationError,
    BudgetExceededError,
    GatewayError,
    KeyRateLimitError,
    ModelNotAllowedError,
    RateLimiterUnavailableError,
)
from bedrock_gateway.keys.limiter import (
    Decision,
    Limiter,
    PendingDecision,
    Reservation,
    Usage,
)
from bedrock_gateway.keys.model import VirtualKey, key_id_of, verify_secret
from bedrock_gateway.keys.prices import PriceTable
from bedrock_gateway.keys.registry import KeyRegistry
from bedrock_gateway.server.context import RequestContext
from bedrock_gateway.telemetry.key_metrics import KeyMetrics

log = logging.getLogger(__name__)
# More keys than this refused at once (only possible with that many live keys) resets the set.
_MAX_REFUSED_KEYS = 100_000

RATE_HEADERS = web.RequestKey("rate_headers", dict)


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    team: str | None = None
    record: VirtualKey | None = None  # None: a static key (unlimited)


PRINCIPAL = web.RequestKey("principal", Principal)


_MESSAGES = {
    "rpm": ("rate_limit_exceeded", "This key's requests-per-minute limit is reached."),
    "tpm": ("tokens_rate_limit_exceeded", "This key's tokens-per-minute limit is reached."),
    "streams": ("concurrent_streams_exceeded",
                "This key's limit of concurrent streams is reached."),
    "budget_day": ("budget_exceeded", "This key's daily token budget is spent."),
    "budget_month": ("budget_exceeded", "This key's monthly token budget is spent."),
    "budget_usd": ("budget_exceeded", "This key's monthly USD budget is spent."),
}


def _seconds_to_next_day(now: float) -> float:
    return 86400 - now % 86400


def _seconds_to_next_month(now: float) -> float:
    stamp = datetime.fromtimestamp(now, UTC)
    year, month = (stamp.year + 1, 1) if stamp.month == 12 else (stamp.year, stamp.month + 1)
    return datetime(year, month, 1, tzinfo=UTC).timestamp() - now


def rate_headers(decision: Decision) -> dict[str, str]:
    """OpenAI's x-ratelimit-* headers for the limits the key has (an unlimited one: none)."""
    headers = {}
    reset = f"{max(1, math.ceil(decision.reset_s))}s"
    limits = decision.limits
    if limits.rpm:
        headers["x-ratelimit-limit-requests"] = str(limits.rpm)
        headers["x-ratelimit-remaining-requests"] = str(max(0, limits.rpm
                                                            - decision.requests_used))
        headers["x-ratelimit-reset-requests"] = reset
    if limits.tpm:
        headers["x-ratelimit-limit-tokens"] = str(limits.tpm)
        headers["x-ratelimit-remaining-tokens"] = str(max(0, limits.tpm
                                                          - decision.tokens_used))
        headers["x-ratelimit-reset-tokens"] = reset
    return headers


def refusal(decision: Decision, now: float) -> GatewayError:
    if decision.outcome == "revoked":  # revoked on another replica since the record was cached
        return AuthenticationError("Incorrect API key provided.")
    code, message = _MESSAGES.get(decision.outcome, ("rate_limit_exceeded", "Limit reached."))
    if decision.outcome == "streams":
        return KeyRateLimitError(message, code=code, retry_after=1.0)
    if decision.outcome in ("rpm", "tpm"):
        return KeyRateLimitError(message, code=code, retry_after=decision.reset_s)
    wait = (_seconds_to_next_day(now) if decision.outcome == "budget_day"
            else _seconds_to_next_month(now))
    return BudgetExceededError(message, retry_after=wait)


class Ticket:
    """An admitted request's reservation; `finish` settles it once, in the background."""

    __slots__ = ("_names", "_principal", "_reservation", "_service")

    def __init__(self, service: KeyService | None, principal: Principal | None,
                 reservation: Reservation | None, names: tuple[str | None, ...]) -> None:
        self._service = service
        self._principal = principal
        self._reservation = reservation
        self._names = names

    def finish(self, ctx: RequestContext) -> None:
        if self._service is None or self._principal is None:
            return
        service, self._service = self._service, None
        service.settle(self._principal, self._reservation, self._names, ctx)


TICKET = web.RequestKey("key_ticket", Ticket)
Check = Callable[[], Awaitable[None]]


class PendingCheck:
    """A limit check on its way (Redis): concluded once, when its answer is first needed or
    when the request ends, whichever comes first (a request that ended before the answer
    settles its reservation when the answer comes)."""

    __slots__ = ("_error", "_names", "_principal", "_request", "_service", "concluded",
                 "pending")

    def __init__(self, service: KeyService, request: web.Request, principal: Principal,
                 names: tuple[str | None, ...], pending: PendingDecision) -> None:
        self._service = service
        self._request = request
        self._principal = principal
        self._names = names
        self.pending = pending
        self.concluded = False
        self._error: GatewayError | None = None

    def conclude(self) -> GatewayError | None:
        if not self.concluded:
            self.concluded = True
            self._error = self._service.apply_outcome(self._request, self._principal,
                                                      self._names, outcome_of(self.pending))
        return self._error

    async def confirm(self) -> None:
        """Wait for the answer (the check goes on if the caller is cancelled) and raise the
        refusal, if any."""
        if not self.concluded:
            await self.pending.wait()
        error = self.conclude()
        if error is not None:
            raise error


PENDING_CHECK = web.RequestKey("pending_key_check", PendingCheck)


def outcome_of(pending: PendingDecision) -> Decision | RateLimiterUnavailableError:
    """The check's decision, or the store's unavailability (for the failure policy)."""
    try:
        return pending.decision()
    except RateLimiterUnavailableError as unavailable:
        return unavailable


class KeyService:
    def __init__(self, *, static: ApiKeyStore, registry: KeyRegistry, limiter: Limiter,
                 metrics: KeyMetrics | None, pepper: str | None, fail_open: bool,
                 default_output_tokens: int, prices: PriceTable | None = None) -> None:
        self.static = static
        self.registry = registry
        self.limiter = limiter
        self._metrics = metrics
        self._pepper = pepper
        self._fail_open = fail_open
        self._default_output = default_output_tokens
        self._prices = prices or PriceTable()
        self._settling: set[asyncio.Task] = set()
        # Keys whose last check was a refusal: their next check is awaited before the request
        # is prepared, so a client hammering a key over its limit costs what an early refusal
        # costs, not a planned and signed Bedrock call each time. Holds authenticated key ids
        # only; a key leaves it with its next admitted request.
        self._refused: set[str] = set()

    async def authenticate(self, token: str) -> Principal | None:
        key_id = key_id_of(token)
        if key_id is None:
            if self.static.is_valid(token):
                return Principal("static-" + hashlib.sha256(token.encode()).hexdigest()[:8])
            return None
        try:
            record = await self.registry.get(key_id, allow_stale=self._fail_open)
        except RateLimiterUnavailableError:
            self._count(key_id, None, "unavailable")
            raise
        if (record is None or not verify_secret(record, token, self._pepper)
                or record.revoked or record.expired()):
            return None
        return Principal(record.id, record.team, record)

    async def admit(self, request: web.Request, ctx: RequestContext, *,
                    names: tuple[str | None, ...], input_bytes: int | None,
                    max_output_tokens: int | None, stream: bool) -> Check | None:
        """Check the key's model access and limits before the Bedrock call; raises the error
        to send. The ticket is kept on the request: `finish_request` (the auth middleware,
        when the handler is done, streams included) settles it.

        With a remote limiter (Redis) this returns once the check is on its way, with the
        `confirm` to await before any Bedrock call is sent (it raises the refusal): the round
        trip then overlaps the request's preparation. Otherwise it returns None, decided."""
        principal = request.get(PRINCIPAL)
        if principal is None:
            return None
        record = principal.record
        if record is None:
            self._count(principal.key_id, None, "ok")
            request[TICKET] = Ticket(self, principal, None, names)
            return None
        if not record.allows_model(*names):
            self._count(record.id, record.team, "model_not_allowed")
            raise ModelNotAllowedError(
                f"This key may not use the model '{names[0]}'.", param="model")
        output = 0 if max_output_tokens == 0 else (max_output_tokens or self._default_output)
        estimate = (input_bytes or 0) // 4 + output
        outcome: Decision | RateLimiterUnavailableError
        try:
            pending = await self.limiter.begin(record, estimate, stream)
        except RateLimiterUnavailableError as unavailable:
            outcome = unavailable
        else:
            if not pending.done() and record.id in self._refused:
                await pending.wait()  # refused last time: likely again, decide before any work
            if not pending.done():
                check = PendingCheck(self, request, principal, names, pending)
                request[PENDING_CHECK] = check
                return check.confirm
            outcome = outcome_of(pending)
        error = self.apply_outcome(request, principal, names, outcome)
        if error is not None:
            raise error
        return None

    def apply_outcome(self, request: web.Request, principal: Principal,
                      names: tuple[str | None, ...],
                      outcome: Decision | RateLimiterUnavailableError) -> GatewayError | None:
        """The check's answer applied to the request: its ticket and headers, counted once.
        Returns the error to send, if refused."""
        record = principal.record
        assert record is not None
        if isinstance(outcome, RateLimiterUnavailableError):
            if not self._fail_open:
                self._count(record.id, record.team, "unavailable")
                return outcome
            self._count(record.id, record.team, "fail_open")
            if self._metrics is not None:
                self._metrics.fail_open.inc()
            request[TICKET] = Ticket(self, principal, None, names)
            return None
        if outcome.outcome != "revoked":
            request[RATE_HEADERS] = rate_headers(outcome)
        self._count(record.id, record.team, outcome.outcome)
        if not outcome.allowed:
            if len(self._refused) >= _MAX_REFUSED_KEYS:
                self._refused.clear()
            self._refused.add(record.id)
            return refusal(outcome, time.time())
        self._refused.discard(record.id)
        request[TICKET] = Ticket(self, principal, outcome.reservation, names)
        return None

    def settle(self, principal: Principal, reservation: Reservation | None,
               names: tuple[str | None, ...], ctx: RequestContext) -> None:
        usage = None
        if ctx.region is not None:  # Bedrock was called
            usage = Usage(model=str(names[0] or "unknown")[:128], input_tokens=ctx.tokens_in,
                          output_tokens=ctx.tokens_out, cached_tokens=ctx.cache_read,
                          usd_micros=self._prices.micros(names, ctx.tokens_in, ctx.tokens_out))
            if self._metrics is not None:
                self._metrics.used(principal.key_id, principal.team, ctx.tokens_in,
                                   ctx.tokens_out)
        if reservation is None:
            return
        task = asyncio.get_running_loop().create_task(self._settle(reservation, usage))
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

    async def _settle(self, reservation: Reservation, usage: Usage | None) -> None:
        try:
            await self.limiter.settle(reservation, usage)
        except RateLimiterUnavailableError:
            log.warning("usage of key %s could not be settled (Redis unavailable)",
                        reservation.key_id)

    async def drain(self) -> None:
        if self._settling:
            await asyncio.wait(list(self._settling), timeout=5)
        try:
            async with asyncio.timeout(5):
                await self.limiter.flush()
        except TimeoutError:
            log.warning("queued usage settlements were not written before shutdown")

    def _count(self, key_id: str, team: str | None, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.outcome(key_id, team, outcome)


async def confirm_admission(request: web.Request) -> None:
    """Wait for the request's limit check if it is still on its way; raise its refusal."""
    check = request.get(PENDING_CHECK)
    if check is not None:
        await check.confirm()


def finish_request(request: web.Request, ctx: RequestContext) -> None:
    check = request.get(PENDING_CHECK)
    if check is not None and not check.concluded and not check.pending.done():
        # Ended before the check answered (nothing was sent to Bedrock): settle its answer.
        check.pending.answer.add_done_callback(lambda _: _finish_checked(request, ctx, check))
        return
    _finish_checked(request, ctx, check)


def _finish_checked(request: web.Request, ctx: RequestContext,
                    check: PendingCheck | None) -> None:
    if check is not None:
        check.conclude()
        # The check refers to the request: break the cycle, so the request is freed at once
        # (by its reference count) instead of by the garbage collector.
        del request[PENDING_CHECK]
    ticket = request.get(TICKET)
    if ticket is not None:
        ticket.finish(ctx)


async def add_rate_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: the key's x-ratelimit-* headers on every response, errors and
    streams included."""
    headers = request.get(RATE_HEADERS)
    if headers:
        response.headers.update(headers)
