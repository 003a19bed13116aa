"""One frozen Settings object, read from the environment (and an optional YAML file) at start.

Names follow the incumbent Bedrock Access Gateway where it has one (API_ROUTE_PREFIX, AWS_REGION,
DEFAULT_MODEL, DEBUG, ENABLE_CROSS_REGION_INFERENCE, ...), so its users' deployments carry over.
Every bad value is reported at start, all at once, instead of failing on the first request.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bedrock_gateway.auth import KeyFormatError, check_key


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names every bad variable."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True, slots=True)
class Settings:
    # Listener
    host: str = "0.0.0.0"
    port: int = 8000
    metrics_port: int = 9464  # 0 disables the metrics listener
    api_route_prefix: str = "/api/v1"
    bedrock_route_prefix: str = "/bedrock"  # Bedrock's own InvokeModel paths live under it
    # Bedrock
    aws_region: str = "us-east-1"
    bedrock_regions: tuple[str, ...] = ()
    default_model: str = "anthropic.claude-3-haiku-20240307-v1:0"
    default_embedding_model: str = "cohere.embed-multilingual-v3"
    default_max_tokens: int | None = None  # None: Bedrock's per-model default
    bedrock_connect_timeout_seconds: float = 10.0
    bedrock_read_timeout_seconds: float = 300.0
    bedrock_max_attempts: int = 2
    request_timeout_seconds: float = 600.0
    # Catalog
    enable_cross_region_inference: bool = True
    enable_application_inference_profiles: bool = True
    model_refresh_seconds: float = 300.0
    model_aliases_file: str | None = None
    # Auth
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    api_key_file: str | None = None
    api_key_secret_arn: str | None = None
    api_key_param_name: str | None = None
    api_key_refresh_seconds: float = 60.0
    # Admission and streaming
    max_concurrent_requests: int = 512
    max_streams_per_region: int = 256
    region_queue_timeout_seconds: float = 0.5
    max_request_body_bytes: int = 20 * 1024 * 1024
    stream_idle_timeout: float = 60.0
    sse_heartbeat_seconds: float = 15.0
    # Shutdown
    shutdown_grace_seconds: float = 30.0
    drain_delay_seconds: float = 5.0
    # Chat features
    enable_prompt_caching: bool = False
    guardrail_identifier: str | None = None
    guardrail_version: str | None = None
    reasoning_budget_low: int = 1024
    reasoning_budget_medium: int = 4096
    reasoning_budget_high: int = 16384
    image_fetch_allowlist: tuple[str, ...] = ()
    image_fetch_max_bytes: int = 3_932_160  # Bedrock's 3.75 MB image limit
    image_fetch_timeout_seconds: float = 10.0
    image_fetch_max_total_bytes: int = 16 * 1024 * 1024
    image_fetch_concurrency: int = 4
    image_fetch_budget_bytes: int = 64 * 1024 * 1024
    embedding_concurrency: int = 8
    # Hostile input: time and memory one client may hold (docs/security.md)
    request_head_timeout_seconds: float = 10.0
    request_body_timeout_seconds: float = 60.0
    keepalive_timeout_seconds: float = 75.0
    request_body_budget_bytes: int = 64 * 1024 * 1024
    # Regions
    breaker_failure_threshold: int = 5
    breaker_cooldown_seconds: float = 30.0
    throttle_backoff_seconds: float = 5.0
    # Responses API
    responses_hosted_tools: str = "drop"  # drop | reject
    responses_encryption_keys: tuple[str, ...] = field(default=(), repr=False)
    responses_encryption_key_file: str | None = None
    responses_store_max_items: int = 10_000
    responses_store_max_bytes: int = 256 * 1024 * 1024
    responses_store_ttl_seconds: float = 30 * 86400.0
    redis_url: str | None = field(default=None, repr=False)
    redis_timeout_seconds: float = 2.0
    # Virtual keys, limits and budgets (docs/keys.md)
    admin_api_key: str | None = field(default=None, repr=False)
    keys_file: str | None = None
    keys_pepper: str | None = field(default=None, repr=False)
    keys_redis_timeout_seconds: float = 0.05
    redis_failure_policy: str = "open"  # open | closed
    keys_cache_seconds: float = 1.0
    keys_default_output_tokens: int = 1024
    keys_metrics_top_n: int = 20
    keys_price_table_file: str | None = None
    # Logging
    debug: bool = False
    log_level: str = "INFO"
    access_log: bool = True
    log_content: bool = False
    trusted_proxy_count: int = 0
    log_format: str = "text"  # text or json
    # Browsers: CORS origins ("*" = any, as the incumbent; empty = no CORS headers at all)
    allowed_origins: tuple[str, ...] = ("*",)

    @property
    def regions(self) -> tuple[str, ...]:
        """Regions to serve from, primary first."""
        return self.bedrock_regions or (self.aws_region,)

    @property
    def route_prefixes(self) -> tuple[str, ...]:
        prefixes = [self.api_route_prefix.rstrip("/")]
        if "/v1" not in prefixes:
            prefixes.append("/v1")
        return tuple(prefixes)

    def has_key_source(self) -> bool:
        return bool(
            self.api_keys or self.api_key_file or self.api_key_secret_arn or self.api_key_param_name
            or self.virtual_keys_enabled
        )

    @property
    def virtual_keys_enabled(self) -> bool:
        """Virtual keys (bgw-...) are served when an admin key, a keys file or Redis is set."""
        return bool(self.admin_api_key or self.keys_file or self.redis_url)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from `GATEWAY_CONFIG_FILE` (YAML, same names), then env, then `overrides`."""
        env = dict(os.environ if environ is None else environ)
        merged: dict[str, str] = {}
        config_file = env.get("GATEWAY_CONFIG_FILE")
        if config_file:
            merged.update(_read_yaml(config_file))
        merged.update(env)
        values, errors = _parse(merged)
        values.update(overrides)
        try:
            settings = cls(**values)
        except TypeError as exc:  # only reachable through a wrong override name
            raise SettingsError(str(exc)) from None
        errors.extend(settings._problems())
        if errors:
            # One line, every problem: the process prints it and exits.
            raise SettingsError("invalid settings: " + "; ".join(errors))
        return settings

    def _problems(self) -> list[str]:
        problems = [f"{name} {rule}, got {getattr(self, name.lower())!r}"
                    for name, rule, ok in _RANGES if not ok(getattr(self, name.lower()))]
        if not self.api_route_prefix.startswith("/"):
            problems.append("API_ROUTE_PREFIX must start with '/'")
        if self.metrics_port and self.metrics_port == self.port:
            problems.append(f"METRICS_PORT must differ from PORT ({self.port})")
        for name, value in (("HOST", self.host), ("DEFAULT_MODEL", self.default_model),
                            ("DEFAULT_EMBEDDING_MODEL", self.default_embedding_model)):
            if not value.strip():
                problems.append(f"{name} must not be empty")
        bad = [r for r in self.regions if not _REGION.fullmatch(r)]
        if bad:
            problems.append(f"AWS_REGION / BEDROCK_REGIONS must be region names like "
                            f"'us-east-1', got {bad}")
        if len(set(self.regions)) != len(self.regions):
            problems.append(f"BEDROCK_REGIONS lists a region twice: {list(self.regions)}")
        if self.responses_hosted_tools not in ("drop", "reject"):
            problems.append("RESPONSES_HOSTED_TOOLS must be drop or reject, got "
                            f"{self.responses_hosted_tools!r}")
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            problems.append("REDIS_URL must be a redis://, rediss:// or unix:// URL")
        problems.extend(self._key_problems())
        problems.extend(self._budget_problems())
        for key in self.api_keys:
            try:
                check_key(key, "API_KEY")
            except KeyFormatError as exc:
                problems.append(str(exc))
        prefix = self.bedrock_route_prefix.rstrip("/")
        if not prefix.startswith("/") or prefix in self.route_prefixes:
            problems.append("BEDROCK_ROUTE_PREFIX must start with '/' and differ from the API "
                            f"route prefixes, got {self.bedrock_route_prefix!r}")
        if self.default_max_tokens is not None and self.default_max_tokens < 1:
            problems.append("DEFAULT_MAX_TOKENS must be at least 1 (or empty for the model's own)")
        if self.log_format not in ("text", "json"):
            problems.append(f"LOG_FORMAT must be text or json, got {self.log_format!r}")
        for origin in self.allowed_origins:
            if origin != "*" and not _is_origin(origin):
                problems.append(f"ALLOWED_ORIGINS: {origin!r} is not an origin like "
                                "https://app.example.com (scheme://host[:port], no path)")
        if self.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            problems.append(f"LOG_LEVEL must be a logging level name, got {self.log_level!r}")
        if bool(self.guardrail_identifier) != bool(self.guardrail_version):
            problems.append("GUARDRAIL_IDENTIFIER and GUARDRAIL_VERSION must be set together")
        if self.model_aliases_file and not os.path.isfile(self.model_aliases_file):
            problems.append(f"MODEL_ALIASES_FILE {self.model_aliases_file!r} is not a "
                            "readable file")
        return problems

    def _key_problems(self) -> list[str]:
        problems = []
        if self.redis_failure_policy not in ("open", "closed"):
            problems.append("REDIS_FAILURE_POLICY must be open or closed, got "
                            f"{self.redis_failure_policy!r}")
        if self.admin_api_key is not None:
            if len(self.admin_api_key) < 16:
                problems.append("ADMIN_API_KEY must be at least 16 characters")
            if self.admin_api_key in self.api_keys:
                problems.append("ADMIN_API_KEY must differ from every API_KEY")
        return problems

    def _budget_problems(self) -> list[str]:
        """Per-process budgets must fit at least one request of the largest allowed size."""
        problems = []
        if self.image_fetch_max_total_bytes < self.image_fetch_max_bytes:
            problems.append("IMAGE_FETCH_MAX_TOTAL_BYTES must be at least IMAGE_FETCH_MAX_BYTES")
        if self.image_fetch_budget_bytes < self.image_fetch_max_total_bytes:
            problems.append("IMAGE_FETCH_BUDGET_BYTES must be at least "
                            "IMAGE_FETCH_MAX_TOTAL_BYTES")
        if self.request_body_budget_bytes < self.max_request_body_bytes:
            problems.append("REQUEST_BODY_BUDGET_BYTES must be at least MAX_REQUEST_BODY_BYTES")
        return problems


def _at_least(low: float) -> Any:
    return lambda value: value >= low


def _above(low: float) -> Any:
    return lambda value: value > low


# (setting, rule as the message says it, check). Anthropic's smallest thinking budget is 1024.
_RANGES: tuple[tuple[str, str, Any], ...] = (
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
_REGION = re.compile(r"[a-z]{2,}(-[a-z0-9]+)+")


# Environment variable -> (field, parser). Parsers raise ValueError with a readable message.
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
    """A finite number (ranges are checked by `Settings._problems`)."""
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


def _is_origin(value: str) -> bool:
    scheme, sep, rest = value.partition("://")
    return bool(sep) and scheme in ("http", "https") and bool(rest) and "/" not in rest


_ENV: dict[str, tuple[str, Any]] = {
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
    "RESPONSES_HOSTED_TOOLS": ("responses_hosted_tools", lambda raw: raw.strip().lower()),
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
    "REDIS_FAILURE_POLICY": ("redis_failure_policy", lambda raw: raw.strip().lower()),
    "KEYS_CACHE_SECONDS": ("keys_cache_seconds", _seconds),
    "KEYS_DEFAULT_OUTPUT_TOKENS": ("keys_default_output_tokens", int),
    "KEYS_METRICS_TOP_N": ("keys_metrics_top_n", int),
    "KEYS_PRICE_TABLE_FILE": ("keys_price_table_file", _optional),
    "DEBUG": ("debug", _bool),
    "LOG_LEVEL": ("log_level", str),
    "ACCESS_LOG": ("access_log", _bool),
    "LOG_CONTENT": ("log_content", _bool),
    "TRUSTED_PROXY_COUNT": ("trusted_proxy_count", int),
    "LOG_FORMAT": ("log_format", lambda raw: raw.strip().lower()),
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


def as_env(settings: Settings) -> dict[str, Any]:
    """The settings under their variable names (the keys of GATEWAY_CONFIG_FILE)."""
    out: dict[str, Any] = {}
    for name, (attr, _) in _ENV.items():
        value = getattr(settings, attr)
        out[name] = ",".join(value) if isinstance(value, tuple) else value
    out["API_KEY"] = ",".join(settings.api_keys) if settings.api_keys else None
    return dict(sorted(out.items()))


def setting_names() -> list[str]:
    """Every environment variable the gateway reads (the README table is checked against this)."""
    return sorted([*_ENV, "API_KEY", "OPENAI_API_KEY", "GATEWAY_CONFIG_FILE"])


def _parse(env: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    values: dict[str, Any] = {}
    errors: list[str] = []
    for name, (attr, parser) in _ENV.items():
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


def _read_yaml(path: str) -> dict[str, Any]:
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


def replace(settings: Settings, **changes: Any) -> Settings:
    return dataclasses.replace(settings, **changes)
