"""The circuit breaker of one (region, model) route, driven by scripts of steps on a fake clock.

A step is (action, argument, expected): "tick" advances the clock by `argument` seconds; "allow"
expects allow() to return `expected`; "ticket" takes a ticket and keeps it under the name
`argument`; "ok" / "fail" report with the ticket named `argument` (None: a fresh one);
"release" releases the probe; "state" checks the state.
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
    "threshold consecutive faults open": [
        *fails(4), ("state", None, "closed"), ("allow", None, True),
        ("fail", None, None), ("state", None, "open"), ("allow", None, False)],
    "a success resets the consecutive count": [
        *fails(4), ("ok", None, None), *fails(4), ("state", None, "closed")],
    "sporadic faults between successes never open": [
        *[step for _ in range(50) for step in (*fails(2), ("ok", None, None))],
        ("state", None, "closed")],
    "consecutive faults open however slowly they come": [
        *[step for _ in range(4) for step in (("fail", None, None), ("tick", 100, None))],
        ("fail", None, None), ("state", None, "open")],
    "open refuses until the cooldown passes": [
        *fails(5), ("tick", 29.9, None), ("allow", None, False), ("state", None, "open")],
    "after the cooldown one probe is admitted": [
        *fails(5), ("tick", 30, None), ("state", None, "half_open"), ("allow", None, True),
        ("state", None, "half_open"), ("allow", None, False), ("allow", None, False)],
    "a stalled probe does not hold the route: another probe after the probe interval": [
        *fails(5), ("tick", 30, None), ("allow", None, True), ("tick", 4.9, None),
        ("allow", None, False), ("tick", 0.1, None), ("allow", None, True),
        ("allow", None, False)],
    "a successful probe closes": [
        *fails(5), ("tick", 30, None), ("ticket", "p", None), ("allow", None, True),
        ("ok", "p", None), ("state", None, "closed"), ("allow", None, True)],
    "a failed probe reopens with a fresh cooldown": [
        *fails(5), ("tick", 30, None), ("ticket", "p", None), ("allow", None, True),
        ("tick", 10, None), ("fail", "p", None), ("state", None, "open"), ("tick", 29, None),
        ("allow", None, False), ("tick", 1, None), ("allow", None, True)],
    "a released probe lets the next call probe": [
        *fails(5), ("tick", 30, None), ("allow", None, True), ("allow", None, False),
        ("release", None, None), ("state", None, "half_open"), ("allow", None, True),
        ("allow", None, False)],
    "release outside half_open does nothing": [
        ("release", None, None), ("state", None, "closed"), *fails(5), ("release", None, None),
        ("allow", None, False)],
    "calls in flight when it opened: their faults do not extend the cooldown": [
        ("ticket", "old", None), *fails(5), ("tick", 20, None), ("fail", "old", None),
        ("tick", 10, None), ("state", None, "half_open"), ("allow", None, True)],
    "calls in flight when it opened: their success does not close it": [
        ("ticket", "old", None), *fails(5), ("ok", "old", None), ("state", None, "open")],
    "a call made while open (panic) closes it when it succeeds": [
        *fails(5), ("ticket", "panic", None), ("tick", 1, None), ("ok", "panic", None),
        ("state", None, "closed"), ("allow", None, True)],
    "a call made while open (panic) that fails restarts the cooldown": [
        *fails(5), ("tick", 20, None), ("ticket", "panic", None), ("fail", "panic", None),
        ("tick", 20, None), ("state", None, "open"), ("tick", 10, None),
        ("state", None, "half_open")],
    "faults of calls started before it closed do not count against the new closed state": [
        *fails(5), ("ticket", "old", None), ("tick", 30, None), ("ticket", "p", None),
        ("allow", None, True), ("ok", "p", None), *[("fail", "old", None)] * 5,
        ("state", None, "closed")],
    "after closing, the count starts from zero": [
        *fails(5), ("tick", 30, None), ("ticket", "p", None), ("allow", None, True),
        ("ok", "p", None), *fails(4), ("state", None, "closed"), ("fail", None, None),
        ("state", None, "open")],
}


@pytest.mark.parametrize("script", SCRIPTS.values(), ids=SCRIPTS.keys())
def test_scripts(script):
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=5, cooldown_s=30, clock=clock)
    tickets: dict[str, int] = {}
    for number, (action, argument, expected) in enumerate(script):
        where = f"step {number}: {action}"
        if action == "tick":
            clock.now += argument
        elif action == "allow":
            assert breaker.allow() is expected, where
        elif action == "ticket":
            tickets[argument] = breaker.ticket()
        elif action == "ok":
            breaker.record_success(tickets.get(argument, breaker.ticket()))
        elif action == "fail":
            breaker.record_failure(tickets.get(argument, breaker.ticket()))
        elif action == "release":
            breaker.release_probe()
        elif action == "state":
            assert breaker.state == expected, where
        else:
            raise AssertionError(action)


@pytest.mark.parametrize("steps, state, value", [
    ([], "closed", 0),
    (fails(5), "open", 2),
    ([*fails(5), ("tick", 30, None)], "half_open", 1),
])
def test_state_value_for_the_gauge(steps, state, value):
    clock = FakeClock()
    breaker = CircuitBreaker(clock=clock)
    for action, argument, _ in steps:
        if action == "fail":
            breaker.record_failure(breaker.ticket())
        else:
            clock.now += argument
    assert (breaker.state, breaker.state_value) == (state, value)


def test_ready_at_counts_down_the_cooldown():
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_s=30, clock=clock)
    assert breaker.ready_at() == float("-inf") and breaker.allow()
    breaker.record_failure(breaker.ticket())
    assert breaker.ready_at() == 1030.0
    clock.now += 12
    assert breaker.ready_at() - clock.now == pytest.approx(18) and not breaker.allow()
    clock.now += 40
    assert breaker.ready_at() <= clock.now


def test_probe_interval_never_exceeds_a_short_cooldown():
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_s=0.5, clock=clock)
    breaker.record_failure(breaker.ticket())
    clock.now += 0.5
    assert breaker.allow() is True and breaker.allow() is False
    clock.now += 0.5
    assert breaker.allow() is True


@pytest.mark.parametrize("kwargs", [
    {"failure_threshold": 0}, {"cooldown_s": -1}, {"probe_interval_s": -1}])
def test_rejects_nonsense_settings(kwargs):
    with pytest.raises(ValueError):
        CircuitBreaker(**kwargs)


def test_neutral_only_when_nothing_is_counted():
    breaker = CircuitBreaker(clock=FakeClock())
    assert breaker.neutral
    breaker.record_failure(breaker.ticket())
    assert not breaker.neutral
    breaker.record_success(breaker.ticket())
    assert breaker.neutral
