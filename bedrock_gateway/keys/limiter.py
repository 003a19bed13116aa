"""Check-and-reserve before the Bedrock call, settle after it: the in-process limiter.

Windows are fixed: requests and tokens per UTC minute, token budgets per UTC day and month, USD
per month. A request reserves 1 request and its token estimate in every window at once, or
nothing; `settle` replaces the estimate with Bedrock's usage and records the usage by model and
day. `decide` is the one rule; the Redis limiter's Lua script applies the same one.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from bedrock_gateway.keys.model import Budget, Limits, VirtualKey

OK = "ok"
# Outcomes that refuse a request, in the order they are checked.
REFUSALS = ("revoked", "rpm", "tpm", "budget_day", "budget_month", "budget_usd", "streams")
USD_MICROS = 1_000_000
USAGE_DAYS = 400  # usage by day is kept this long (in Redis too)


@dataclass(frozen=True, slots=True)
class Windows:
    minute: int
    day: str
    month: str
    reset_s: float  # until the minute window ends

    @classmethod
    def at(cls, now: float) -> Windows:
        stamp = datetime.fromtimestamp(now, UTC)
        return cls(int(now // 60), stamp.strftime("%Y%m%d"), stamp.strftime("%Y%m"),
                   60.0 - now % 60)


@dataclass(frozen=True, slots=True)
class Reservation:
    key_id: str
    estimate: int
    lease: str | None  # the stream slot held, if any
    windows: Windows


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: str
    limits: Limits
    requests_used: int  # in this minute, this request included when admitted
    tokens_used: int
    reset_s: float
    reservation: Reservation | None = None

    @property
    def allowed(self) -> bool:
        return self.outcome == OK


@dataclass(frozen=True, slots=True)
class Usage:
    model: str
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    usd_micros: int = 0


class PendingDecision:
    """A limit check under way: `answer` is the future of the store's reply and `decode` makes
    the decision of it (raising RateLimiterUnavailableError when the store failed, or did not
    answer by `deadline`, a loop time)."""

    __slots__ = ("_decode", "answer", "deadline")

    def __init__(self, answer: asyncio.Future, deadline: float,
                 decode: Callable[[asyncio.Future], Decision]) -> None:
        self.answer = answer
        self.deadline = deadline
        self._decode = decode

    @classmethod
    def decided(cls, decision: Decision) -> PendingDecision:
        answer = asyncio.get_running_loop().create_future()
        answer.set_result(decision)
        return cls(answer, 0.0, lambda done: done.result())

    def done(self) -> bool:
        return self.answer.done()

    async def wait(self) -> None:
        """Until the answer is in or the deadline passed (never cancels the check)."""
        if not self.answer.done():
            remaining = self.deadline - asyncio.get_running_loop().time()
            await asyncio.wait((self.answer,), timeout=max(0.0, remaining))

    def decision(self) -> Decision:
        return self._decode(self.answer)


class Limiter(Protocol):
    async def begin(self, key: VirtualKey, estimate: int, stream: bool) -> PendingDecision:
        """Start the check of one request: returns once it is on its way (a remote store) or
        decided (in process). Raises RateLimiterUnavailableError if it cannot even start."""

    async def reserve(self, key: VirtualKey, estimate: int, stream: bool) -> Decision: ...

    async def settle(self, reservation: Reservation, usage: Usage | None) -> None: ...

    async def usage(self, key_id: str, days: list[str]) -> list[dict]: ...

    async def flush(self) -> None:
        """Finish settling what is queued (at shutdown)."""


def decide(limits: Limits, budget: Budget, *, requests: int, tokens: int, streams: int,
           day: int, month: int, usd_micros: int, estimate: int, stream: bool) -> str:
    """The one admission rule (0 means unlimited). A token window that is still empty admits
    one request whatever its estimate, so a large request is slow, never impossible."""
    if limits.rpm and requests >= limits.rpm:
        return "rpm"
    if limits.tpm and tokens > 0 and tokens + estimate > limits.tpm:
        return "tpm"
    if budget.tokens_per_day and day >= budget.tokens_per_day:
        return "budget_day"
    if budget.tokens_per_month and month >= budget.tokens_per_month:
        return "budget_month"
    if budget.usd_per_month and usd_micros >= budget.usd_per_month * USD_MICROS:
        return "budget_usd"
    if stream and limits.max_streams and streams >= limits.max_streams:
        return "streams"
    return OK


def new_lease() -> str:
    return uuid.uuid4().hex


class MemoryLimiter:
    """Counters in this process: right for one replica (and the demo)."""

    def __init__(self, lease_s: float = 600.0) -> None:
        self._lease_s = lease_s
        self._minute = -1
        self._day = ""
        self._requests: dict[str, int] = defaultdict(int)  # this minute only
        self._tokens: dict[str, int] = defaultdict(int)
        self._spent: dict[tuple[str, str], int] = defaultdict(int)  # (id, day|month) -> tokens
        self._usd: dict[tuple[str, str], int] = defaultdict(int)  # (id, month) -> micro-USD
        self._streams: dict[str, dict[str, float]] = defaultdict(dict)  # id -> lease -> expiry
        self._usage: dict[str, dict[tuple[str, str], list[int]]] = defaultdict(dict)

    def _roll(self, windows: Windows) -> None:
        if windows.minute != self._minute:
            self._minute = windows.minute
            self._requests.clear()
            self._tokens.clear()
        if windows.day != self._day:  # once a day: forget spent budgets and old usage
            self._day = windows.day
            current = (windows.day, windows.month)
            for table in (self._spent, self._usd):
                for entry in [e for e in table if e[1] not in current]:
                    del table[entry]
            oldest = Windows.at(time.time() - USAGE_DAYS * 86400).day
            for rows in self._usage.values():
                for entry in [e for e in rows if e[0] < oldest]:
                    del rows[entry]

    async def begin(self, key: VirtualKey, estimate: int, stream: bool) -> PendingDecision:
        return PendingDecision.decided(await self.reserve(key, estimate, stream))

    async def reserve(self, key: VirtualKey, estimate: int, stream: bool,
                      now: float | None = None) -> Decision:
        now = time.time() if now is None else now
        windows = Windows.at(now)
        self._roll(windows)
        kid = key.id
        leases = self._streams[kid]
        for lease, expiry in list(leases.items()):
            if expiry <= now:
                del leases[lease]
        outcome = "revoked" if key.revoked else decide(
            key.limits, key.budget, requests=self._requests[kid], tokens=self._tokens[kid],
            streams=len(leases), day=self._spent[(kid, windows.day)],
            month=self._spent[(kid, windows.month)], usd_micros=self._usd[(kid, windows.month)],
            estimate=estimate, stream=stream)
        if outcome != OK:
            return Decision(outcome, key.limits, self._requests[kid], self._tokens[kid],
                            windows.reset_s)
        self._requests[kid] += 1
        self._tokens[kid] += estimate
        self._spent[(kid, windows.day)] += estimate
        self._spent[(kid, windows.month)] += estimate
        stream_lease = None
        if stream:
            stream_lease = new_lease()
            leases[stream_lease] = now + self._lease_s
        return Decision(OK, key.limits, self._requests[kid], self._tokens[kid], windows.reset_s,
                        Reservation(kid, estimate, stream_lease, windows))

    async def settle(self, reservation: Reservation, usage: Usage | None) -> None:
        kid, windows = reservation.key_id, reservation.windows
        if reservation.lease is not None:
            self._streams[kid].pop(reservation.lease, None)
        actual = (usage.input_tokens + usage.output_tokens) if usage else 0
        delta = actual - reservation.estimate
        if windows.minute == self._minute:
            self._tokens[kid] = max(0, self._tokens[kid] + delta)
        for period in (windows.day, windows.month):
            self._spent[(kid, period)] = max(0, self._spent[(kid, period)] + delta)
        if usage is None:
            return
        self._usd[(kid, windows.month)] += usage.usd_micros
        row = self._usage[kid].setdefault((windows.day, usage.model), [0, 0, 0, 0])
        row[0] += 1
        row[1] += usage.input_tokens
        row[2] += usage.output_tokens
        row[3] += usage.cached_tokens

    async def flush(self) -> None:
        pass  # settles apply at once

    async def usage(self, key_id: str, days: list[str]) -> list[dict]:
        wanted = set(days)
        rows = self._usage.get(key_id, {})
        return [usage_row(day, model, *counts) for (day, model), counts in sorted(rows.items())
                if day in wanted]


def usage_row(day: str, model: str, requests: int, input_tokens: int, output_tokens: int,
              cached_tokens: int) -> dict:
    return {"date": f"{day[:4]}-{day[4:6]}-{day[6:]}", "model": model, "requests": requests,
            "input_tokens": input_tokens, "output_tokens": output_tokens,
            "cached_tokens": cached_tokens}
