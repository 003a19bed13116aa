"""The range of every numeric setting, as the start-up message states it.

A test checks that every int or float field of `Settings` has a rule here.
"""

from __future__ import annotations

from collections.abc import Callable

# (variable, the rule as the message says it, the check of the parsed value)
RangeRule = tuple[str, str, Callable[[float], bool]]


def _at_least(low: float) -> Callable[[float], bool]:
    return lambda value: value >= low


def _above(low: float) -> Callable[[float], bool]:
    return lambda value: value > low


# Anthropic's smallest thinking budget is 1024 tokens.
RANGE_RULES: tuple[RangeRule, ...] = (
    *((name, "must be a port number (0-65535)", lambda v: 0 <= v <= 65535)
      for name in ("PORT", "METRICS_PORT")),
    *((name, "must be at least 1", _at_least(1)) for name in (
        "BEDROCK_MAX_ATTEMPTS", "MAX_CONCURRENT_REQUESTS", "MAX_STREAMS_PER_REGION",
        "MAX_REQUEST_BODY_BYTES", "IMAGE_FETCH_MAX_BYTES", "EMBEDDING_CONCURRENCY",
        "BREAKER_FAILURE_THRESHOLD", "IMAGE_FETCH_CONCURRENCY", "IMAGE_FETCH_MAX_TOTAL_BYTES",
        "IMAGE_FETCH_BUDGET_BYTES", "REQUEST_BODY_BUDGET_BYTES", "RESPONSES_STORE_MAX_ITEMS",
        "RESPONSES_STORE_MAX_BYTES")),
    *((name, "must be greater than 0", _above(0)) for name in (
        "BEDROCK_CONNECT_TIMEOUT_SECONDS", "BEDROCK_READ_TIMEOUT_SECONDS",
        "REQUEST_TIMEOUT_SECONDS", "MODEL_REFRESH_SECONDS", "API_KEY_REFRESH_SECONDS",
        "REGION_QUEUE_TIMEOUT_SECONDS", "STREAM_IDLE_TIMEOUT", "SSE_HEARTBEAT_SECONDS",
        "IMAGE_FETCH_TIMEOUT_SECONDS", "BREAKER_COOLDOWN_SECONDS", "REQUEST_HEAD_TIMEOUT_SECONDS",
        "REQUEST_BODY_TIMEOUT_SECONDS", "KEEPALIVE_TIMEOUT_SECONDS",
        "RESPONSES_STORE_TTL_SECONDS", "REDIS_TIMEOUT_SECONDS")),
    *((name, "must not be negative", _at_least(0)) for name in (
        "SHUTDOWN_GRACE_SECONDS", "DRAIN_DELAY_SECONDS", "THROTTLE_BACKOFF_SECONDS",
        "TRUSTED_PROXY_COUNT")),
    ("KEYS_REDIS_TIMEOUT_SECONDS", "must be greater than 0 and at most 5", lambda v: 0 < v <= 5),
    ("KEYS_CACHE_SECONDS", "must be from 0 to 1 (revocation is seen within it)",
     lambda v: 0 <= v <= 1),
    ("KEYS_DEFAULT_OUTPUT_TOKENS", "must be at least 1", _at_least(1)),
    ("KEYS_METRICS_TOP_N", "must not be negative", _at_least(0)),
    *((name, "must be at least 1024 (the smallest thinking budget)", _at_least(1024))
      for name in ("REASONING_BUDGET_LOW", "REASONING_BUDGET_MEDIUM", "REASONING_BUDGET_HIGH")),
)


def range_problems(value_of: Callable[[str], float]) -> list[str]:
    """One message per setting out of its range; `value_of` gives a variable's parsed value."""
    return [f"{name} {rule}, got {value_of(name)!r}"
            for name, rule, ok in RANGE_RULES if not ok(value_of(name))]
