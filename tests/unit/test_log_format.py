"""LOG_FORMAT=json: one JSON object per record, the current span's trace id, a traceback as one
string field (never extra lines)."""

from __future__ import annotations

import io
import json
import logging

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from bedrock_gateway.telemetry.log_format import log_handler


def capture(log_format: str) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    logger = logging.getLogger(f"test.log_format.{log_format}")
    logger.handlers[:] = [log_handler(log_format, stream)]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream


def test_json_record_with_trace_id_and_one_line_traceback():
    logger, stream = capture("json")
    provider = TracerProvider()
    span = provider.get_tracer("t").start_span("request")
    with trace.use_span(span, end_on_exit=True):
        try:
            raise ValueError("boom\nsecond line")
        except ValueError:
            logger.exception("failed on %s", "/v1/chat")
    logger.warning("outside")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2, lines
    first, second = map(json.loads, lines)
    assert first["message"] == "failed on /v1/chat" and first["level"] == "ERROR"
    assert first["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert first["span_id"] == format(span.get_span_context().span_id, "016x")
    assert first["exception"].startswith("Traceback") and "ValueError: boom" in first["exception"]
    assert first["time"].endswith("Z") and first["logger"] == "test.log_format.json"
    assert "trace_id" not in second and second["message"] == "outside"


def test_text_format_is_unchanged():
    logger, stream = capture("text")
    logger.info("hello %d", 1)
    assert stream.getvalue().rstrip().endswith("INFO test.log_format.text: hello 1")
