"""Where setting values come from: environment variables and the optional YAML file.

`ENV_FIELDS` maps every variable to the `Settings` field it sets and the parser of its text.
Parsers only turn text into values (raising ValueError with a readable message); whether a value
is in range is `Settings`' business (settings.py, settings_ranges.py). Every problem found at
start is a `SettingsError`, reported all at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names every bad variable."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _bool(raw: str) -> bool:
    low = raw.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(f"expected true/false, got {raw!r}")


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _seconds(raw: str) -> float:
    """A finite number (ranges are checked by `Settings`)."""
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"expected a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {raw!r}")
    return value


def _optional(raw: str) -> str | None:
    return raw.strip() or None


def _optional_int(raw: str) -> int | None:
    try:
        return int(raw) if raw.strip() else None
    except ValueError:
        raise ValueError(f"expected a whole number or nothing, got {raw!r}") from None


def _lower(raw: str) -> str:
    return raw.strip().lower()


# Environment variable -> (Settings field, parser of its text).
ENV_FIELDS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "HOST": ("host", str),
    "PORT": ("port", int),
    "METRICS_PORT": ("metrics_port", int),
    "API_ROUTE_PREFIX": ("api_route_prefix", str),
    "BEDROCK_ROUTE_PREFIX": ("bedrock_route_prefix", str),
    "AWS_REGION": ("aws_region", str),
    "BEDROCK_REGIONS": ("bedrock_regions", _csv),
    "DEFAULT_MODEL": ("default_model", str),
    "DEFAULT_EMBEDDING_MODEL": ("default_embedding_model", str),
    "DEFAULT_MAX_TOKENS": ("default_max_tokens", _optional_int),
    "BEDROCK_CONNECT_TIMEOUT_SECONDS": ("bedrock_connect_timeout_seconds", _seconds),
    "BEDROCK_READ_TIMEOUT_SECONDS": ("bedrock_read_timeout_seconds", _seconds),
    "BEDROCK_MAX_ATTEMPTS": ("bedrock_max_attempts", int),
    "REQUEST_TIMEOUT_SECONDS": ("request_timeout_seconds", _seconds),
    "ENABLE_CROSS_REGION_INFERENCE": ("enable_cross_region_inference", _bool),
    "ENABLE_APPLICATION_INFERENCE_PROFILES": ("enable_application_inference_profiles", _bool),
    "MODEL_REFRESH_SECONDS": ("model_refresh_seconds", _seconds),
    "MODEL_ALIASES_FILE": ("model_aliases_file", _optional),
    "API_KEY_FILE": ("api_key_file", _optional),
    "API_KEY_SECRET_ARN": ("api_key_secret_arn", _optional),
    "API_KEY_PARAM_NAME": ("api_key_param_name", _optional),
    "API_KEY_REFRESH_SECONDS": ("api_key_refresh_seconds", _seconds),
    "MAX_CONCURRENT_REQUESTS": ("max_concurrent_requests", int),
    "MAX_STREAMS_PER_REGION": ("max_streams_per_region", int),
    "REGION_QUEUE_TIMEOUT_SECONDS": ("region_queue_timeout_seconds", _seconds),
    "MAX_REQUEST_BODY_BYTES": ("max_request_body_bytes", int),
    "STREAM_IDLE_TIMEOUT": ("stream_idle_timeout", _seconds),
    "SSE_HEARTBEAT_SECONDS": ("sse_heartbeat_seconds", _seconds),
    "SHUTDOWN_GRACE_SECONDS": ("shutdown_grace_seconds", _seconds),
    "DRAIN_DELAY_SECONDS": ("drain_delay_seconds", _seconds),
    "ENABLE_PROMPT_CACHING": ("enable_prompt_caching", _bool),
    "GUARDRAIL_IDENTIFIER": ("guardrail_identifier", _optional),
    "GUARDRAIL_VERSION": ("guardrail_version", _optional),
    "REASONING_BUDGET_LOW": ("reasoning_budget_low", int),
    "REASONING_BUDGET_MEDIUM": ("reasoning_budget_medium", int),
    "REASONING_BUDGET_HIGH": ("reasoning_budget_high", int),
    "IMAGE_FETCH_ALLOWLIST": ("image_fetch_allowlist", _csv),
    "IMAGE_FETCH_MAX_BYTES": ("image_fetch_max_bytes", int),
    "IMAGE_FETCH_TIMEOUT_SECONDS": ("image_fetch_timeout_seconds", _seconds),
    "IMAGE_FETCH_MAX_TOTAL_BYTES": ("image_fetch_max_total_bytes", int),
    "IMAGE_FETCH_CONCURRENCY": ("image_fetch_concurrency", int),
    "IMAGE_FETCH_BUDGET_BYTES": ("image_fetch_budget_bytes", int),
    "REQUEST_HEAD_TIMEOUT_SECONDS": ("request_head_timeout_seconds", _seconds),
    "REQUEST_BODY_TIMEOUT_SECONDS": ("request_body_timeout_seconds", _seconds),
    "KEEPALIVE_TIMEOUT_SECONDS": ("keepalive_timeout_seconds", _seconds),
    "REQUEST_BODY_BUDGET_BYTES": ("request_body_budget_bytes", int),
    "EMBEDDING_CONCURRENCY": ("embedding_concurrency", int),
    "BREAKER_FAILURE_THRESHOLD": ("breaker_failure_threshold", int),
    "BREAKER_COOLDOWN_SECONDS": ("breaker_cooldown_seconds", _seconds),
    "THROTTLE_BACKOFF_SECONDS": ("throttle_backoff_seconds", _seconds),
    "RESPONSES_HOSTED_TOOLS": ("responses_hosted_tools", _lower),
    "RESPONSES_ENCRYPTION_KEY": ("responses_encryption_keys", _csv),
    "RESPONSES_ENCRYPTION_KEY_FILE": ("responses_encryption_key_file", _optional),
    "RESPONSES_STORE_MAX_ITEMS": ("responses_store_max_items", int),
    "RESPONSES_STORE_MAX_BYTES": ("responses_store_max_bytes", int),
    "RESPONSES_STORE_TTL_SECONDS": ("responses_store_ttl_seconds", _seconds),
    "REDIS_URL": ("redis_url", _optional),
    "REDIS_TIMEOUT_SECONDS": ("redis_timeout_seconds", _seconds),
    "ADMIN_API_KEY": ("admin_api_key", _optional),
    "KEYS_FILE": ("keys_file", _optional),
    "KEYS_PEPPER": ("keys_pepper", _optional),
    "KEYS_REDIS_TIMEOUT_SECONDS": ("keys_redis_timeout_seconds", _seconds),
    "REDIS_FAILURE_POLICY": ("redis_failure_policy", _lower),
    "KEYS_CACHE_SECONDS": ("keys_cache_seconds", _seconds),
    "KEYS_DEFAULT_OUTPUT_TOKENS": ("keys_default_output_tokens", int),
    "KEYS_METRICS_TOP_N": ("keys_metrics_top_n", int),
    "KEYS_PRICE_TABLE_FILE": ("keys_price_table_file", _optional),
    "DEBUG": ("debug", _bool),
    "LOG_LEVEL": ("log_level", str),
    "ACCESS_LOG": ("access_log", _bool),
    "LOG_CONTENT": ("log_content", _bool),
    "TRUSTED_PROXY_COUNT": ("trusted_proxy_count", int),
    "LOG_FORMAT": ("log_format", _lower),
    "ALLOWED_ORIGINS": ("allowed_origins", _csv),
}


# Settings of the incumbent (the AWS sample "Bedrock Access Gateway") that this gateway does not
# use, with what to do instead; named in a warning at start when set.
INCUMBENT_IGNORED: dict[str, str] = {
    "TITLE": "API documentation metadata; this gateway serves no /docs page",
    "SUMMARY": "API documentation metadata; this gateway serves no /docs page",
    "DESCRIPTION": "API documentation metadata; this gateway serves no /docs page",
}


def ignored_incumbent_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """{variable: why} for incumbent settings that are set but have no effect here."""
    return {name: why for name, why in INCUMBENT_IGNORED.items() if environ.get(name)}


def setting_names() -> list[str]:
    """Every environment variable the gateway reads (the README table is checked against this)."""
    return sorted([*ENV_FIELDS, "API_KEY", "OPENAI_API_KEY", "GATEWAY_CONFIG_FILE"])


def parse_values(env: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """({field: value} of every variable set in `env`, [problem, ...]); absent ones are left out."""
    values: dict[str, Any] = {}
    errors: list[str] = []
    for name, (attr, parser) in ENV_FIELDS.items():
        if env.get(name) is None:  # absent, or null in the YAML file: the default
            continue
        raw = env[name]
        try:
            values[attr] = parser(raw if isinstance(raw, str) else _to_text(raw))
        except ValueError as exc:
            reason = str(exc) if parser not in (int, float) else f"expected a number, got {raw!r}"
            errors.append(f"{name}: {reason}")
    # Several keys may be valid at once (rotation overlap): comma-separated, or a YAML list.
    keys: list[str] = []
    for name in ("API_KEY", "OPENAI_API_KEY"):
        try:
            keys.extend(_key_list(env.get(name)))
        except ValueError as exc:
            errors.append(f"{name}: {exc}")
    if keys:
        values["api_keys"] = tuple(dict.fromkeys(keys))
    return values, errors


def _key_list(raw: Any) -> list[str]:
    """API_KEY as a comma-separated string, or (from the YAML file) a list of strings."""
    if raw is None:
        return []
    if isinstance(raw, str):
        return list(_csv(raw))
    if isinstance(raw, (list, tuple)) and all(isinstance(k, str) for k in raw):
        return [k.strip() for k in raw if k.strip()]
    # Never quote the value: it is meant to be a secret.
    raise ValueError("must be a string (comma-separated keys) or a YAML list of strings")


def _to_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def read_config_file(path: str) -> dict[str, Any]:
    """The YAML file named by GATEWAY_CONFIG_FILE as {VARIABLE: value}; unknown names refused."""
    import yaml  # only when a config file is used

    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsError(f"GATEWAY_CONFIG_FILE {path!r} cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise SettingsError(f"GATEWAY_CONFIG_FILE {path!r} must hold a mapping of setting names")
    values = {str(k).upper(): v for k, v in data.items()}
    unknown = sorted(set(values) - set(setting_names()) - {"GATEWAY_CONFIG_FILE"})
    if unknown:  # a typo would otherwise leave a default in force without a word
        raise SettingsError(f"GATEWAY_CONFIG_FILE {path!r}: unknown setting(s) "
                            f"{', '.join(unknown)}")
    return values
