"""The (region, model) health table: what counts, throttle preference, panic, bounded size."""

from __future__ import annotations

import pytest

from bedrock_gateway.bedrock.route_health import (
    ANSWERED,
    CAPACITY,
    FAULT,
    NO_VERDICT,
    HealthTable,
    verdict,
)
from bedrock_gateway.errors import BEDROCK_ERRORS

A, B, C = "us-east-1", "us-west-2", "eu-west-1"
HAIKU, SONNET = "anthropic.haiku", "anthropic.sonnet"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def table(**kwargs) -> tuple[HealthTable, FakeClock]:
    clock = FakeClock()
    options = {"failure_threshold": 5, "cooldown_s": 30.0, "throttle_backoff_s": 5.0, **kwargs}
    return HealthTable(clock=clock, **options), clock


def plan(health: HealthTable, regions, model) -> list[tuple[str, bool]]:
    """The regions one round would call if every call failed with no verdict."""
    out = []
    for attempt in health.attempts(regions, model):
        out.append((attempt.region, attempt.panic))
        health.release(attempt, model)
    return out


def fault(health: HealthTable, region: str, model: str, n: int = 1) -> None:
    for _ in range(n):
        attempt = next(a for a in health.attempts([region], model))
        health.record(attempt, model, "bedrock_unavailable")


@pytest.mark.parametrize("code, expected", [
    (None, ANSWERED),
    ("upstream_connection_error", FAULT), ("upstream_connect_timeout", FAULT),
    ("upstream_timeout", FAULT), ("bedrock_unavailable", FAULT),
    ("bedrock_internal_error", FAULT),
    ("throttled", CAPACITY), ("quota_exceeded", CAPACITY), ("model_not_ready", CAPACITY),
    ("region_queue_timeout", NO_VERDICT), ("request_timeout", NO_VERDICT),
    ("invalid_request", ANSWERED), ("access_denied", ANSWERED), ("model_not_found", ANSWERED),
    ("model_error", ANSWERED), ("model_stream_error", ANSWERED), ("model_timeout", ANSWERED),
    ("upstream_error", ANSWERED),
])
def test_only_region_faults_count(code, expected):
    assert verdict(code) == expected


def test_every_bedrock_code_has_a_deliberate_verdict():
    from bedrock_gateway.errors import from_bedrock_code

    faults = {c for c in sorted(BEDROCK_ERRORS)
              if verdict(from_bedrock_code(c, None).code) == FAULT}
    assert faults == {"internalserverexception", "serviceunavailableexception"}


def test_a_failing_model_never_reorders_another_model():
    health, _ = table()
    fault(health, A, HAIKU, 5)
    assert plan(health, [A, B], HAIKU) == [(B, False), (A, True)]  # postponed, not dropped
    assert plan(health, [A, B], SONNET) == [(A, False), (B, False)]


def test_throttling_demotes_briefly_and_never_opens():
    health, clock = table()
    for _ in range(100):
        attempt = next(a for a in health.attempts([A, B], HAIKU) if a.region == A)
        health.record(attempt, HAIKU, "throttled")
    assert health.route(A, HAIKU).breaker.state == "closed"
    # Demoted, not skipped: tried after B, and still tried.
    assert plan(health, [A, B], HAIKU) == [(B, False), (A, False)]
    assert plan(health, [A, B], SONNET) == [(A, False), (B, False)]  # another model: untouched
    clock.now += 5.0
    assert plan(health, [A, B], HAIKU) == [(A, False), (B, False)]  # the preference decayed


def test_success_lifts_a_throttle_demotion():
    health, _ = table()
    attempt = next(health.attempts([A, B], HAIKU))
    health.record(attempt, HAIKU, "throttled")
    assert plan(health, [A, B], HAIKU)[0] == (B, False)
    attempt = next(a for a in health.attempts([A, B], HAIKU) if a.region == A)
    health.record(attempt, HAIKU, None)
    assert plan(health, [A, B], HAIKU)[0] == (A, False)


def test_demoted_regions_rank_by_when_their_backoff_ends():
    health, clock = table()
    for region in (A, B):
        attempt = next(a for a in health.attempts([A, B, C], HAIKU) if a.region == region)
        health.record(attempt, HAIKU, "throttled")
        clock.now += 1
    assert [r for r, _ in plan(health, [A, B, C], HAIKU)] == [C, A, B]


def test_zero_backoff_turns_the_preference_off():
    health, _ = table(throttle_backoff_s=0)
    attempt = next(health.attempts([A, B], HAIKU))
    health.record(attempt, HAIKU, "throttled")
    assert plan(health, [A, B], HAIKU) == [(A, False), (B, False)]


def test_panic_when_every_candidate_is_open_tries_the_soonest_to_recover_first():
    health, clock = table()
    fault(health, A, HAIKU, 5)
    clock.now += 10
    fault(health, B, HAIKU, 5)
    assert plan(health, [A, B], HAIKU) == [(A, True), (B, True)]  # A's cooldown ends first
    assert plan(health, [B, A], HAIKU) == [(A, True), (B, True)]
    assert plan(health, [B], HAIKU) == [(B, True)]  # one region: never refused


def test_an_open_route_is_still_called_when_the_usable_ones_fail_the_request():
    health, _ = table()
    fault(health, B, HAIKU, 5)
    calls = []
    for attempt in health.attempts([A, B], HAIKU):
        calls.append((attempt.region, attempt.panic))
        health.record(attempt, HAIKU, "throttled" if attempt.region == A else None)
    assert calls == [(A, False), (B, True)]
    assert health.route(B, HAIKU).breaker.state == "closed"  # the panic call succeeded


def test_a_successful_panic_call_closes_the_route():
    health, _ = table()
    fault(health, A, HAIKU, 8)
    [attempt] = list(health.attempts([A], HAIKU))
    assert attempt.panic
    health.record(attempt, HAIKU, None)
    assert health.route(A, HAIKU).breaker.state == "closed"
    assert plan(health, [A], HAIKU) == [(A, False)]


def test_half_open_probe_in_flight_leaves_panic_for_the_others():
    health, clock = table()
    fault(health, A, HAIKU, 5)
    clock.now += 30
    probe = next(health.attempts([A], HAIKU))
    assert not probe.panic  # the probe
    # Probe in flight, no other candidate: the next request still gets a call (panic).
    assert plan(health, [A], HAIKU) == [(A, True)]


def test_client_errors_and_our_own_limits_never_open():
    health, _ = table(failure_threshold=2)
    for code in ["invalid_request", "access_denied", "model_error", "region_queue_timeout",
                 "request_timeout", "throttled"] * 5:
        attempt = next(health.attempts([A], HAIKU))
        health.record(attempt, HAIKU, code)
    assert health.route(A, HAIKU).breaker.state == "closed"
    for _ in range(5):
        health.release(next(health.attempts([A], HAIKU)), HAIKU)  # client disconnects
    assert health.route(A, HAIKU).breaker.state == "closed"


def test_the_table_is_bounded_and_forgets_neutral_routes_first():
    health, _ = table(max_entries=8)
    fault(health, A, HAIKU, 5)  # one route with state
    for i in range(100):
        plan(health, [A, B], f"model-{i}")
    assert len(health) <= 8
    assert health.states()[(A, HAIKU)] == 2  # the route that carries state was kept


def test_states_for_the_gauge():
    health, clock = table()
    fault(health, A, HAIKU, 5)
    plan(health, [B], HAIKU)
    assert health.states() == {(A, HAIKU): 2, (B, HAIKU): 0}
    clock.now += 30
    assert health.states()[(A, HAIKU)] == 1
