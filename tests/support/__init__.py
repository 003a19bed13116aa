"""What tests import (conftest.py holds fixtures only).

- constants: the test key, the admin key, model ids, the two emulated regions.
- polling: `eventually()`, the one poller (no test sleeps for a guessed time).
- emulator_admin: the one client of the emulator's control API (faults, stats, reset).
- inprocess_gateway: the gateway under test in the test's process (`Gateway`, its settings).
- gateway_process: gateways as child processes (`python -m bedrock_gateway`).
- interpreter: which Python runs those child processes.
- local_http: free ports, readiness polls, a loopback image server.
- raw_http: raw HTTP/1.1 over a socket; keys_admin: the admin API and raw data-route calls.
- metrics_scrape: a parsed /metrics page; otel_checks, otlp_receiver: OpenTelemetry checks.
- prometheus_server, redis_server, aws_secrets: real servers (or wire stand-ins) tests run.
- converse_events, golden_json: Converse shapes and the golden fixtures' bytes convention.
"""
