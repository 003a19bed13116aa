"""Health per (region, model): which regions a request tries, in which order.

Bedrock's quotas and outages are per model and region, so every (region, model) route has its
own circuit breaker and its own throttle preference; one model's trouble never reorders another's.

- Only region faults count against a breaker: connection errors, connect/read timeouts,
  ServiceUnavailable and InternalServerException (`verdict`). The verdict comes with the first
  byte (response headers; the whole answer for a non-streamed call), never at a stream's end.
- Throttling is capacity, not ill-health: a throttled route moves behind the others for
  `throttle_backoff_s`, and nothing else happens.
- Never fail closed: an open breaker only postpones its route. Usable routes are tried first;
  the open ones after them, soonest to recover first (panic), so a request is refused only when
  every candidate region was called and failed.

Pure logic with an injected clock (no I/O); the router calls it. The table is bounded: ids come
from the catalog, and past `max_entries` the least recently used route is forgotten.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from bedrock_gateway.bedrock.breaker import CircuitBreaker

FAULT, CAPACITY, ANSWERED, NO_VERDICT = "fault", "capacity", "answered", "no_verdict"

# Error codes (bedrock_gateway.errors) that say the region, for this model, is unwell.
_FAULT_CODES = frozenset({"upstream_connection_error", "upstream_connect_timeout",
                          "upstream_timeout", "bedrock_unavailable", "bedrock_internal_error"})
# Bedrock is fine but has no room for this model now.
_CAPACITY_CODES = frozenset({"throttled", "quota_exceeded", "model_not_ready"})
# Our own limits or the client's doing: nothing learned about the region.
_NO_VERDICT_CODES = frozenset({"region_queue_timeout", "request_timeout"})

DEFAULT_MAX_ENTRIES = 4096


def verdict(error_code: str | None) -> str:
    """What one call's outcome says about its route. None = success."""
    if error_code is None:
        return ANSWERED
    if error_code in _FAULT_CODES:
        return FAULT
    if error_code in _CAPACITY_CODES:
        return CAPACITY
    if error_code in _NO_VERDICT_CODES:
        return NO_VERDICT
    return ANSWERED  # the region answered; the request (or the model, for this input) was at fault


@dataclass(slots=True)
class RouteHealth:
    breaker: CircuitBreaker
    demoted_until: float = float("-inf")  # throttled: tried after the others until then

    @property
    def neutral(self) -> bool:
        return self.breaker.neutral and self.demoted_until == float("-inf")


@dataclass(frozen=True, slots=True)
class Attempt:
    region: str
    ticket: int
    panic: bool = False  # called although its breaker is open: no usable alternative


@dataclass
class HealthTable:
    failure_threshold: int = 5
    cooldown_s: float = 30.0
    throttle_backoff_s: float = 5.0
    max_entries: int = DEFAULT_MAX_ENTRIES
    clock: Callable[[], float] = time.monotonic
    _routes: OrderedDict[tuple[str, str], RouteHealth] = field(default_factory=OrderedDict)

    def route(self, region: str, model: str) -> RouteHealth:
        key = (region, model)
        health = self._routes.get(key)
        if health is None:
            if len(self._routes) >= self.max_entries:
                self._evict()
            health = RouteHealth(CircuitBreaker(self.failure_threshold, self.cooldown_s,
                                                clock=self.clock))
            self._routes[key] = health
        else:
            self._routes.move_to_end(key)
        return health

    def _evict(self) -> None:
        """Forget a neutral route if there is one (it carries no state), else the oldest."""
        for key, health in self._routes.items():
            if health.neutral:
                del self._routes[key]
                return
        self._routes.popitem(last=False)

    def order(self, regions: Sequence[str], model: str) -> list[str]:
        """Candidates by preference: configured order, throttled routes last (soonest free
        first). Breakers are not consulted here: see `attempts`."""
        now = self.clock()
        ranked = []
        for position, region in enumerate(regions):
            until = self.route(region, model).demoted_until
            ranked.append((until if until > now else float("-inf"), position, region))
        return [region for *_, region in sorted(ranked)]

    def attempts(self, regions: Sequence[str], model: str) -> Iterator[Attempt]:
        """One round over the candidates: each usable route in preference order, then the routes
        whose breaker is open (soonest to recover first: panic). An open route is only ever
        *postponed*: it is called when every usable one failed this request, or when there is
        none. Lazy: a half-open route's probe slot is taken only when the round reaches it."""
        skipped: list[tuple[float, int, str]] = []
        for position, region in enumerate(self.order(regions, model)):
            breaker = self.route(region, model).breaker
            if breaker.allow():
                yield Attempt(region, breaker.ticket())
            else:
                skipped.append((breaker.ready_at(), position, region))
        for *_, region in sorted(skipped):
            yield Attempt(region, self.route(region, model).breaker.ticket(), panic=True)

    def record(self, attempt: Attempt, model: str, error_code: str | None) -> str:
        """Feed one call's outcome back; returns its verdict."""
        health = self.route(attempt.region, model)
        outcome = verdict(error_code)
        if outcome == FAULT:
            health.breaker.record_failure(attempt.ticket)
        elif outcome == ANSWERED:
            health.breaker.record_success(attempt.ticket)
            if error_code is None:
                health.demoted_until = float("-inf")
        else:
            health.breaker.release_probe()
            if outcome == CAPACITY and self.throttle_backoff_s > 0:
                health.demoted_until = self.clock() + self.throttle_backoff_s
        return outcome

    def release(self, attempt: Attempt, model: str) -> None:
        """The call ended without any outcome (cancelled: the client went away)."""
        self.route(attempt.region, model).breaker.release_probe()

    def states(self) -> dict[tuple[str, str], int]:
        """(region, model) -> 0 closed / 1 half-open / 2 open, for the gauge."""
        return {key: health.breaker.state_value for key, health in self._routes.items()}

    def __len__(self) -> int:
        return len(self._routes)
