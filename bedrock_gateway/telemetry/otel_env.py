"""The standard OTEL_* variables, read from one mapping into one frozen `OtelConfig`.

Why not let the SDK read them: its helpers read `os.environ` directly, while the gateway reads its
configuration from a mapping it is given (so several apps with different settings can run in one
process, and tests need not patch the environment). We follow the SDK's rules and reuse its
parsers and sampler classes; where we differ, on purpose, it is said here:

- No endpoint, no telemetry: without `OTEL_EXPORTER_OTLP_ENDPOINT` or the per-signal endpoint,
  tracing is off (the SDK would send to localhost:4318 and log an error per failed batch).
- Only OTLP over HTTP/protobuf is shipped. Another `OTEL_EXPORTER_OTLP_PROTOCOL` is logged.
- Timeouts are seconds, like the Python SDK (the spec says milliseconds).
- The default sampler is `always_on`, not the SDK's `parentbased_always_on`: a caller's
  `traceparent` arrives before its key is checked, so by default it must not decide whether the
  gateway records (a `-00` flag would hide a request from the traces). A `parentbased_*` sampler
  set on purpose lets callers decide; see Tracing.server_span for how the caller's trace id is kept.
- `OTEL_PYTHON_*` credential providers are still read by the SDK from `os.environ`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote

from opentelemetry.sdk.trace import sampling
from opentelemetry.util.re import parse_env_headers

_log = logging.getLogger(__name__)

DEFAULT_SERVICE_NAME = "bedrock-gateway"
# OTEL_PROPAGATORS: the spec's default, and the names this gateway ships propagators for.
DEFAULT_PROPAGATORS = ("tracecontext", "baggage")
KNOWN_PROPAGATORS = frozenset({"tracecontext", "baggage", "xray", "none"})

# The SDK's table of sampler names (sampling._KNOWN_SAMPLERS is private), over public samplers.
_SAMPLERS: Mapping[str, Any] = MappingProxyType({
    "always_on": lambda _: sampling.ALWAYS_ON,
    "always_off": lambda _: sampling.ALWAYS_OFF,
    "parentbased_always_on": lambda _: sampling.DEFAULT_ON,
    "parentbased_always_off": lambda _: sampling.DEFAULT_OFF,
    "traceidratio": sampling.TraceIdRatioBased,
    "parentbased_traceidratio": sampling.ParentBasedTraceIdRatio,
})


@dataclass(frozen=True, slots=True)
class ExporterConfig:
    """Keyword arguments for one OTLP/HTTP exporter (traces or metrics)."""

    endpoint: str
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 10.0
    compression: str = "none"  # none, gzip, deflate
    certificate_file: str | None = None
    client_key_file: str | None = None
    client_certificate_file: str | None = None

    def kwargs(self) -> dict[str, Any]:
        # Imported here: building the config must not need the exporter package.
        from opentelemetry.exporter.otlp.proto.http import Compression

        compression = {"gzip": Compression.Gzip, "deflate": Compression.Deflate}.get(
            self.compression, Compression.NoCompression
        )
        return {
            "endpoint": self.endpoint,
            "headers": self.headers,
            "timeout": self.timeout,
            "compression": compression,
            "certificate_file": self.certificate_file,
            "client_key_file": self.client_key_file,
            "client_certificate_file": self.client_certificate_file,
        }


@dataclass(frozen=True, slots=True)
class OtelConfig:
    traces: ExporterConfig | None  # None: tracing off
    metrics: ExporterConfig | None  # None: GenAI metrics off
    sampler: sampling.Sampler = sampling.ALWAYS_ON
    resource_attributes: dict[str, str] = field(default_factory=dict)
    bsp_schedule_delay_ms: float = 5000
    bsp_max_queue_size: int = 2048
    bsp_max_export_batch_size: int = 512
    bsp_export_timeout_ms: float = 30000
    metric_export_interval_ms: float = 60000
    metric_export_timeout_ms: float = 30000
    propagators: tuple[str, ...] = DEFAULT_PROPAGATORS


def read_config(environ: Mapping[str, str], *, service_version: str) -> OtelConfig:
    env = {k: v for k, v in environ.items() if k.startswith("OTEL_")}
    if _get(env, "OTEL_SDK_DISABLED").lower() == "true":
        return OtelConfig(traces=None, metrics=None, propagators=())
    for var in ("OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"):
        if _get(env, var) not in ("", "http/protobuf"):
            _log.warning("%s=%s is not supported; using http/protobuf", var, env[var])
    traces = _exporter(env, "TRACES", "v1/traces") if _wants_otlp(env, "TRACES") else None
    metrics = _exporter(env, "METRICS", "v1/metrics") if _wants_otlp(env, "METRICS") else None
    return OtelConfig(
        traces=traces,
        metrics=metrics,
        sampler=_sampler(env),
        resource_attributes=resource_attributes(env, service_version=service_version),
        bsp_schedule_delay_ms=_number(env, "OTEL_BSP_SCHEDULE_DELAY", 5000),
        bsp_max_queue_size=int(_number(env, "OTEL_BSP_MAX_QUEUE_SIZE", 2048)),
        bsp_max_export_batch_size=int(_number(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512)),
        bsp_export_timeout_ms=_number(env, "OTEL_BSP_EXPORT_TIMEOUT", 30000),
        metric_export_interval_ms=_number(env, "OTEL_METRIC_EXPORT_INTERVAL", 60000),
        metric_export_timeout_ms=_number(env, "OTEL_METRIC_EXPORT_TIMEOUT", 30000),
        propagators=propagator_names(env),
    )


def propagator_names(env: Mapping[str, str]) -> tuple[str, ...]:
    """OTEL_PROPAGATORS as a tuple of known names (unknown ones are logged and skipped)."""
    raw = _get(env, "OTEL_PROPAGATORS")
    if not raw:
        return DEFAULT_PROPAGATORS
    names = [n.strip().lower() for n in raw.split(",") if n.strip()]
    for name in names:
        if name not in KNOWN_PROPAGATORS:
            _log.warning("OTEL_PROPAGATORS: %r is not supported (tracecontext, baggage, xray, "
                         "none); ignored", name)
    if "none" in names:
        return ()
    return tuple(dict.fromkeys(n for n in names if n in KNOWN_PROPAGATORS))


def resource_attributes(env: Mapping[str, str], *, service_version: str) -> dict[str, str]:
    """service.name/version defaults, then OTEL_RESOURCE_ATTRIBUTES, then OTEL_SERVICE_NAME."""
    attributes = {"service.name": DEFAULT_SERVICE_NAME, "service.version": service_version}
    # Same parsing as the SDK's OTELResourceDetector: comma-separated key=value, values
    # percent-decoded, malformed items skipped with a warning.
    for item in _get(env, "OTEL_RESOURCE_ATTRIBUTES").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            _log.warning("Invalid OTEL_RESOURCE_ATTRIBUTES item %r", item)
            continue
        attributes[key.strip()] = unquote(value.strip())
    if service_name := _get(env, "OTEL_SERVICE_NAME"):
        attributes["service.name"] = service_name
    return attributes


def _wants_otlp(env: Mapping[str, str], signal: str) -> bool:
    chosen = [e.strip().lower() for e in _get(env, f"OTEL_{signal}_EXPORTER", "otlp").split(",")]
    for name in chosen:
        if name not in ("otlp", "none", ""):
            _log.warning("OTEL_%s_EXPORTER=%s is not supported; only otlp or none", signal, name)
    return "otlp" in chosen


def _exporter(env: Mapping[str, str], signal: str, path: str) -> ExporterConfig | None:
    def pick(suffix: str) -> str:  # the per-signal variable wins over the generic one
        return _get(env, f"OTEL_EXPORTER_OTLP_{signal}_{suffix}") or _get(
            env, f"OTEL_EXPORTER_OTLP_{suffix}"
        )

    # A per-signal endpoint is used as given; the generic one gets the signal's path appended.
    endpoint = _get(env, f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")
    if not endpoint:
        base = _get(env, "OTEL_EXPORTER_OTLP_ENDPOINT")
        if not base:
            return None
        endpoint = f"{base.removesuffix('/')}/{path}"
    try:
        timeout = float(pick("TIMEOUT") or 10)
    except ValueError:
        _log.warning("Invalid OTLP timeout %r; using 10 s", pick("TIMEOUT"))
        timeout = 10.0
    compression = (pick("COMPRESSION") or "none").strip().lower()
    if compression not in ("none", "gzip", "deflate"):
        _log.warning("Unsupported OTLP compression %r; using none", compression)
        compression = "none"
    return ExporterConfig(
        endpoint=endpoint,
        headers=dict(parse_env_headers(pick("HEADERS"), liberal=True)),
        timeout=timeout,
        compression=compression,
        certificate_file=pick("CERTIFICATE") or None,
        client_key_file=pick("CLIENT_KEY") or None,
        client_certificate_file=pick("CLIENT_CERTIFICATE") or None,
    )


def _sampler(env: Mapping[str, str]) -> sampling.Sampler:
    name = _get(env, "OTEL_TRACES_SAMPLER", "always_on").strip().lower()
    if name not in _SAMPLERS:
        _log.warning("Unknown OTEL_TRACES_SAMPLER %r; using always_on", name)
        name = "always_on"
    try:
        rate = float(_get(env, "OTEL_TRACES_SAMPLER_ARG", "1.0"))
    except ValueError:
        _log.warning("Invalid OTEL_TRACES_SAMPLER_ARG; using 1.0")
        rate = 1.0
    try:
        return _SAMPLERS[name](rate)
    except ValueError:  # a ratio outside [0, 1]
        _log.warning("OTEL_TRACES_SAMPLER_ARG %s is out of range; using 1.0", rate)
        return _SAMPLERS[name](1.0)


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = _get(env, name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        _log.warning("Invalid %s=%r; using %s", name, raw, default)
        return default
    return value


def _get(env: Mapping[str, str], name: str, default: str = "") -> str:
    return (env.get(name) or default).strip()
