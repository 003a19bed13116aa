"""Per-key usage counters and the health of Redis (keys, limits, stored responses).

The `key` label holds a key id (never a secret): the first `top_n` distinct ids seen get their
own series, every later one is `other` (KEYS_METRICS_TOP_N), and so does `team`, so a gateway
with thousands of keys still exports a bounded number of series.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from bedrock_gateway.telemetry.metrics import BoundedLabel

KEY_OUTCOMES = ("ok", "revoked", "rpm", "tpm", "budget_day", "budget_month", "budget_usd",
                "streams", "model_not_allowed", "fail_open", "unavailable")


class KeyMetrics:
    def __init__(self, registry: CollectorRegistry, top_n: int, redis: bool) -> None:
        self._key = BoundedLabel(top_n)
        self._team = BoundedLabel(top_n)
        self._operation = BoundedLabel(16)
        self.requests = Counter(
            "bedrock_gateway_key_requests_total",
            "Requests of virtual and static keys by limiter outcome (ok = admitted).",
            ["key", "team", "outcome"], registry=registry)
        self.tokens = Counter(
            "bedrock_gateway_key_tokens_total", "Tokens used by key (Bedrock's usage).",
            ["key", "team", "kind"], registry=registry)
        # Only with REDIS_URL: a gateway without Redis exports no redis_up (no false alert).
        self.redis_up = Gauge(
            "bedrock_gateway_redis_up",
            "1 when the last Redis call (keys, limits, ping) succeeded, 0 when it failed.",
            registry=registry if redis else None)
        self.redis_errors = Counter(
            "bedrock_gateway_redis_errors_total", "Failed or timed-out Redis calls.",
            ["operation"], registry=registry if redis else None)
        self.fail_open = Counter(
            "bedrock_gateway_limiter_fail_open_total",
            "Requests served unchecked because Redis was unavailable (REDIS_FAILURE_POLICY=open).",
            registry=registry)
        if redis:
            self.redis_errors.labels("reserve")

    def redis_result(self, operation: str, ok: bool) -> None:
        self.redis_up.set(1 if ok else 0)
        if not ok:
            self.redis_errors.labels(self._operation(operation)).inc()

    def outcome(self, key_id: str, team: str | None, outcome: str) -> None:
        label = outcome if outcome in KEY_OUTCOMES else "other"
        self.requests.labels(self._key(key_id), self._team(team), label).inc()

    def used(self, key_id: str, team: str | None, input_tokens: int, output_tokens: int) -> None:
        key, team_l = self._key(key_id), self._team(team)
        self.tokens.labels(key, team_l, "input").inc(input_tokens)
        self.tokens.labels(key, team_l, "output").inc(output_tokens)
