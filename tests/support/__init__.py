"""Test helpers that run real servers: an OTLP/HTTP receiver and a Prometheus server."""
