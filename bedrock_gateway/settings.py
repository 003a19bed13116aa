"""One frozen Settings object, read from the environment (and an optional YAML file) at start.

Names follow the incumbent Bedrock Access Gateway where it has one (API_ROUTE_PREFIX, AWS_REGION,
DEFAULT_MODEL, DEBUG, ENABLE_CROSS_REGION_INFERENCE, ...), so its users' deployments carry over.
Every bad value is reported at start, all at once, instead of failing on the first request.
This module holds the fields and the rules between them; where the values come from (variables,
parsers, the YAML file) is settings_sources.py, the numeric ranges settings_ranges.py.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bedrock_gateway.auth import KeyFormatError, check_key
from bedrock_gateway.settings_ranges import range_problems
from bedrock_gateway.settings_sources import (
    SettingsError,
    parse_values,
    read_config_file,
    setting_names,
)

__all__ = ["Settings", "SettingsError", "setting_names"]

_REGION = re.compile(r"[a-z]{2,}(-[a-z0-9]+)+")


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
        merged: dict[str, Any] = {}
        config_file = env.get("GATEWAY_CONFIG_FILE")
        if config_file:
            merged.update(read_config_file(config_file))
        merged.update(env)
        values, errors = parse_values(merged)
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
        problems = range_problems(lambda name: getattr(self, name.lower()))
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


def _is_origin(value: str) -> bool:
    scheme, sep, rest = value.partition("://")
    return bool(sep) and scheme in ("http", "https") and bool(rest) and "/" not in rest
