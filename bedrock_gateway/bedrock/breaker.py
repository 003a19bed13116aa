"""A circuit breaker for one (region, model): stop preferring a route that keeps failing, and test
it again once a cooldown has passed.

Pure state machine; the clock is injected so tests drive time by hand. It only ever *advises*:
the router skips an open route while another candidate is usable, and still calls it when none
is (panic mode, see `health.py`), so a breaker never answers a request by itself.

Every call carries a ticket (the breaker's epoch when the call started). A verdict from a call
that started before the last transition is stale and ignored: a burst of calls in flight when a
region died opens the breaker once, and their late failures do not extend the cooldown; a late
success of a call admitted before the opening does not close it either.
"""

from __future__ import annotations

import time
from collections.abc import Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
_STATES = (CLOSED, HALF_OPEN, OPEN)  # position = gauge value: rises with severity

# A half-open breaker admits one probe; when that probe has given no verdict for this long
# (it is stalled before its first byte), the next call may probe too.
DEFAULT_PROBE_INTERVAL_S = 5.0


class CircuitBreaker:
    """closed -> (threshold consecutive faults) -> open -> (cooldown) -> half_open -> probe ->
    closed on success, open again (fresh cooldown) on a fault."""

    __slots__ = ("_clock", "_consecutive", "_epoch", "_opened_at", "_probe_at", "_state",
                 "cooldown_s", "failure_threshold", "probe_interval_s")

    def __init__(self, failure_threshold: int = 5, cooldown_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic,
                 probe_interval_s: float | None = None) -> None:
        if probe_interval_s is None:
            probe_interval_s = min(DEFAULT_PROBE_INTERVAL_S, cooldown_s)
        if failure_threshold < 1 or cooldown_s < 0 or probe_interval_s < 0:
            raise ValueError("breaker: threshold >= 1, cooldown >= 0, probe interval >= 0")
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self.probe_interval_s = probe_interval_s
        self._clock = clock
        self._state = CLOSED
        self._epoch = 0  # +1 on every open and every close
        self._consecutive = 0
        self._opened_at = 0.0
        self._probe_at: float | None = None

    @property
    def state(self) -> str:
        if self._state == OPEN and self._clock() - self._opened_at >= self.cooldown_s:
            return HALF_OPEN  # cooldown over: the next call is a probe
        return self._state

    @property
    def state_value(self) -> int:
        """0 closed, 1 half_open, 2 open (for a gauge; rises with severity)."""
        return _STATES.index(self.state)

    @property
    def neutral(self) -> bool:
        """Closed with no fault counted: indistinguishable from a fresh breaker."""
        return self._state == CLOSED and self._consecutive == 0

    def ticket(self) -> int:
        """Take before a call; hand back with the verdict."""
        return self._epoch

    def allow(self) -> bool:
        """May a call go here now without panic? In half_open, True admits a probe."""
        if self._state == CLOSED:
            return True
        now = self._clock()
        if self._state == OPEN:
            if now - self._opened_at < self.cooldown_s:
                return False
            self._state, self._probe_at = HALF_OPEN, None
        if self._probe_at is not None and now - self._probe_at < self.probe_interval_s:
            return False
        self._probe_at = now
        return True

    def ready_at(self) -> float:
        """Clock time at which this breaker admits calls again (now or earlier when it does)."""
        if self._state == CLOSED:
            return float("-inf")
        return self._opened_at + self.cooldown_s

    def record_success(self, ticket: int) -> None:
        if self._state == CLOSED:
            self._consecutive = 0
        elif ticket == self._epoch:  # a probe or a panic call that started after the opening
            self._transition(CLOSED)

    def record_failure(self, ticket: int) -> None:
        if ticket != self._epoch:
            return  # started before the last transition: already accounted for
        if self._state == CLOSED:
            self._consecutive += 1
            if self._consecutive >= self.failure_threshold:
                self._transition(OPEN)
        else:  # a failed probe or panic call: open again with a fresh cooldown
            self._transition(OPEN)

    def release_probe(self) -> None:
        """The probe ended without a verdict on the region (client gone, our own queue): let the
        next call probe instead."""
        if self._state == HALF_OPEN:
            self._probe_at = None

    def _transition(self, state: str) -> None:
        self._state, self._probe_at = state, None
        self._epoch += 1
        self._consecutive = 0
        if state == OPEN:
            self._opened_at = self._clock()
