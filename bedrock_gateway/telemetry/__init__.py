"""Telemetry: Prometheus metrics, OpenTelemetry traces and GenAI metrics, the JSON access log.

Every object here is built per application and passed down; nothing is registered globally (no
default Prometheus registry, no global TracerProvider or MeterProvider), so several apps can live
in one process (tests do). Import the submodules directly; this package imports nothing itself so
that using the metrics does not load the OpenTelemetry SDK.

    metrics.py       GatewayMetrics: the contract in docs/metrics.md
    collectors.py    scrape-time collectors: the inter-chunk histogram (ChunkTimer) and state gauges
    metrics_http.py  the separate /metrics listener (the only module that uses aiohttp's server)
    otel_env.py      the standard OTEL_* variables, read from one mapping
    otel_sdk.py      the app's own TracerProvider / MeterProvider with OTLP/HTTP exporters
    tracing.py       Tracing: server and Bedrock spans, GenAI metrics over OTLP/HTTP
    access_log.py    AccessLog: one JSON line per request, and client_address()
"""
