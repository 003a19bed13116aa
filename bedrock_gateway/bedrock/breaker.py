"""A circuit breaker for one region: stop sending traffic to a region that keeps failing, and test
it again with a single probe once a cooldown has passed.

Pure state machine; the clock is injected so tests drive time by hand. Callers decide what counts
as a failure (region health: 5xx, timeouts, throttling), not client mistakes such as a 400.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
_STATES = (CLOSED, HALF_OPEN, OPEN)  # position = gauge value: rises with severity


class CircuitBreaker:
    """closed -> (failures >= threshold) -> open -> (cooldown) -> half_open -> one probe ->
    closed on success, open again on failure."""

    def __init__(self, failure_threshold: int = 5, window_s: float = 30.0,
                 cooldown_s: float = 30.0, clock: Callable[[], float] = time.monotonic,
                 probe_timeout_s: float = 300.0) -> None:
        if failure_threshold < 1 or window_s <= 0 or cooldown_s < 0 or probe_timeout_s <= 0:
            raise ValueError("breaker: threshold >= 1, window > 0, cooldown >= 0, probe timeout > 0")
        self.failure_threshold = failure_threshold
        self.window_s = window_s
        self.cooldown_s = cooldown_s
        # A probe whose caller never reported (a bug, a lost task) must not keep the region shut
        # for ever: after this long another probe is admitted.
        self.probe_timeout_s = probe_timeout_s
        self._clock = clock
        self._state = CLOSED
        self._consecutive = 0
        self._recent: deque[float] = deque()  # failure times within the window
        self._opened_at = 0.0
        self._probe_started: float | None = None

    @property
    def state(self) -> str:
        return self._state

    @property
    def state_value(self) -> int:
        """0 closed, 1 half_open, 2 open (for a gauge; rises with severity)."""
        return _STATES.index(self._state)

    def allow(self) -> bool:
        """May a call go to this region now? In half_open, True admits the one probe."""
        if self._state == CLOSED:
            return True
        now = self._clock()
        if self._state == OPEN:
            if now - self._opened_at < self.cooldown_s:
                return False
            self._state, self._probe_started = HALF_OPEN, None
        if self._probe_started is not None and now - self._probe_started < self.probe_timeout_s:
            return False
        self._probe_started = now
        return True

    def record_success(self) -> None:
        if self._state == HALF_OPEN:
            self._close()
        elif self._state == CLOSED:
            self._consecutive = 0
        # OPEN: a late answer from a call admitted before opening says little; keep the cooldown.

    def record_failure(self) -> None:
        now = self._clock()
        if self._state == HALF_OPEN:
            self._open(now)
            return
        if self._state == OPEN:
            return  # late failures of calls already in flight: the cooldown is not extended
        self._consecutive += 1
        self._recent.append(now)
        while self._recent and self._recent[0] <= now - self.window_s:
            self._recent.popleft()
        if self._consecutive >= self.failure_threshold or len(self._recent) >= self.failure_threshold:
            self._open(now)

    def release_probe(self) -> None:
        """The probe ended without a verdict on the region (e.g. the client's own 400): let the
        next call probe instead."""
        if self._state == HALF_OPEN:
            self._probe_started = None

    def retry_after_seconds(self) -> float:
        """Seconds until an open breaker admits a probe (0 when not open), for Retry-After."""
        if self._state != OPEN:
            return 0.0
        return max(0.0, self.cooldown_s - (self._clock() - self._opened_at))

    def _open(self, now: float) -> None:
        self._state, self._opened_at, self._probe_started = OPEN, now, None
        self._consecutive = 0
        self._recent.clear()

    def _close(self) -> None:
        self._state, self._probe_started = CLOSED, None
        self._consecutive = 0
        self._recent.clear()
