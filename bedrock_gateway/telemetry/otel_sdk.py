"""Builds one app's own TracerProvider and MeterProvider from an `OtelConfig`.

Nothing here touches the SDK's globals: the providers are returned to the caller (Tracing), and
even the SDK's self-monitoring metrics get a no-op provider instead of the global one. The
providers do not register `atexit` hooks; the app shuts them down in its cleanup (Tracing.shutdown),
so that a test that builds many apps does not pile up exit handlers holding dead providers.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.metrics import NoOpMeterProvider

from bedrock_gateway.telemetry.otel_env import OtelConfig


def build_providers(config: OtelConfig) -> tuple[Any, Any]:
    """(TracerProvider or None, MeterProvider or None); either is None when its signal is off."""
    if config.traces is None and config.metrics is None:
        return None, None
    # Imported only when telemetry is on: the SDK and the exporters are slow to import.
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter,
    )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # Resource.create adds the SDK's telemetry.sdk.* attributes (and whatever os.environ's
    # OTEL_RESOURCE_ATTRIBUTES holds); ours, read from the given mapping, take precedence.
    resource = Resource.create(config.resource_attributes)
    internal = NoOpMeterProvider()

    meter_provider = None
    if config.metrics is not None:
        reader = PeriodicExportingMetricReader(
            OTLPMetricExporter(**config.metrics.kwargs(), meter_provider=internal),
            export_interval_millis=config.metric_export_interval_ms,
            export_timeout_millis=config.metric_export_timeout_ms,
        )
        meter_provider = MeterProvider(
            metric_readers=[reader], resource=resource, shutdown_on_exit=False
        )

    tracer_provider = None
    if config.traces is not None:
        tracer_provider = TracerProvider(
            sampler=config.sampler, resource=resource, shutdown_on_exit=False,
            meter_provider=internal,
        )
        tracer_provider.add_span_processor(BatchSpanProcessor(
            OTLPSpanExporter(**config.traces.kwargs(), meter_provider=internal),
            max_queue_size=config.bsp_max_queue_size,
            schedule_delay_millis=config.bsp_schedule_delay_ms,
            max_export_batch_size=config.bsp_max_export_batch_size,
            export_timeout_millis=config.bsp_export_timeout_ms,
            meter_provider=internal,
        ))
    return tracer_provider, meter_provider
