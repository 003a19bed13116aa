"""The per-region circuit breaker, driven by scripts of steps against a fake clock.

A step is (action, argument, expected): "tick" advances the clock by `argument` seconds; "allow"
expects allow() to return `expected`; "ok" / "fail" / "release" report; "state" checks the state.
"""

from __future__ import annotations

import pytest

from bedrock_gateway.bedrock.breaker import CircuitBreaker


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fails(n: int) -> list[tuple]:
    return [("fail", None, None)] * n


SCRIPTS = {
    "closed admits everything": [
        ("allow", None, True), ("allow", None, True), ("state", None, "closed")],
    "threshold consecutive failures open": [
        *fails(4), ("state", None, "closed"), ("allow", None, True),
        ("fail", None, None), ("state", None, "open"), ("allow", None, False)],
    "a success resets the consecutive count": [
        *fails(4), ("ok", None, None), ("tick", 31, None), *fails(4), ("state", None, "closed")],
    "failures within the window open despite successes": [
        *fails(2), ("ok", None, None), *fails(2), ("ok", None, None), ("tick", 5, None),
        ("fail", None, None), ("state", None, "open")],
    "failures spread beyond the window with successes between stay closed": [
        *fails(3), ("ok", None, None), ("tick", 31, None), *fails(2), ("ok", None, None),
        ("state", None, "closed")],
    "consecutive failures open even when slower than the window": [
        ("fail", None, None), ("tick", 20, None), ("fail", None, None), ("tick", 20, None),
        ("fail", None, None), ("tick", 20, None), ("fail", None, None), ("tick", 20, None),
        ("fail", None, None), ("state", None, "open")],
    "open refuses until the cooldown passes": [
        *fails(5), ("tick", 29.9, None), ("allow", None, False), ("state", None, "open")],
    "after the cooldown exactly one probe is admitted": [
        *fails(5), ("tick", 30, None), ("allow", None, True), ("state", None, "half_open"),
        ("allow", None, False), ("allow", None, False), ("tick", 100, None), ("allow", None, False)],
    "a successful probe closes": [
        *fails(5), ("tick", 30, None), ("allow", None, True), ("ok", None, None),
        ("state", None, "closed"), ("allow", None, True), ("allow", None, True)],
    "a failed probe reopens with a fresh cooldown": [
        *fails(5), ("tick", 30, None), ("allow", None, True), ("tick", 10, None),
        ("fail", None, None), ("state", None, "open"), ("tick", 29, None), ("allow", None, False),
        ("tick", 1, None), ("allow", None, True), ("state", None, "half_open")],
    "a released probe lets the next call probe": [
        *fails(5), ("tick", 30, None), ("allow", None, True), ("allow", None, False),
        ("release", None, None), ("state", None, "half_open"), ("allow", None, True),
        ("allow", None, False)],
    "release outside half_open does nothing": [
        ("release", None, None), ("state", None, "closed"), *fails(5), ("release", None, None),
        ("allow", None, False)],
    "late results while open do not change the cooldown": [
        *fails(5), ("tick", 20, None), ("fail", None, None), ("ok", None, None),
        ("state", None, "open"), ("tick", 10, None), ("allow", None, True)],
    "a probe that never reports is replaced after the probe timeout": [
        *fails(5), ("tick", 30, None), ("allow", None, True), ("tick", 299, None),
        ("allow", None, False), ("tick", 1, None), ("allow", None, True), ("allow", None, False)],
    "after closing, the count starts from zero": [
        *fails(5), ("tick", 30, None), ("allow", None, True), ("ok", None, None),
        *fails(4), ("state", None, "closed"), ("fail", None, None), ("state", None, "open")],
}


@pytest.mark.parametrize("script", SCRIPTS.values(), ids=SCRIPTS.keys())
def test_scripts(script):
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=5, window_s=30, cooldown_s=30, clock=clock)
    for number, (action, argument, expected) in enumerate(script):
        where = f"step {number}: {action}"
        if action == "tick":
            clock.now += argument
        elif action == "allow":
            assert breaker.allow() is expected, where
        elif action == "ok":
            breaker.record_success()
        elif action == "fail":
            breaker.record_failure()
        elif action == "release":
            breaker.release_probe()
        elif action == "state":
            assert breaker.state == expected, where
        else:
            raise AssertionError(action)


@pytest.mark.parametrize("steps, state, value", [
    ([], "closed", 0),
    (fails(5), "open", 2),
    ([*fails(5), ("tick", 30, None), ("allow", None, True)], "half_open", 1),
])
def test_state_value_for_the_gauge(steps, state, value):
    clock = FakeClock()
    breaker = CircuitBreaker(clock=clock)
    for action, argument, _ in steps:
        if action == "fail":
            breaker.record_failure()
        elif action == "tick":
            clock.now += argument
        else:
            breaker.allow()
    assert (breaker.state, breaker.state_value) == (state, value)


def test_retry_after_seconds_counts_down_the_cooldown():
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_s=30, clock=clock)
    assert breaker.retry_after_seconds() == 0.0
    breaker.record_failure()
    clock.now += 12
    assert breaker.retry_after_seconds() == pytest.approx(18)
    clock.now += 40
    assert breaker.retry_after_seconds() == 0.0


def test_threshold_of_one_and_zero_cooldown():
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_s=0, clock=clock)
    breaker.record_failure()
    assert breaker.state == "open"
    assert breaker.allow() is True and breaker.state == "half_open"
    assert breaker.allow() is False


@pytest.mark.parametrize("kwargs", [
    {"failure_threshold": 0}, {"window_s": 0}, {"cooldown_s": -1}, {"probe_timeout_s": 0}])
def test_rejects_nonsense_settings(kwargs):
    with pytest.raises(ValueError):
        CircuitBreaker(**kwargs)


def test_breakers_are_independent():
    clock = FakeClock()
    a, b = CircuitBreaker(clock=clock), CircuitBreaker(clock=clock)
    for _ in range(5):
        a.record_failure()
    assert a.state == "open" and b.state == "closed" and b.allow()
