"""The JSON access log writer and the X-Forwarded-For rule."""

from __future__ import annotations

import io
import re

import orjson
import pytest

from bedrock_gateway.telemetry.access_log import (
    FIELDS,
    AccessLog,
    client_address,
    rfc3339_ms,
)

RECORD = {
    "time": 1738324800.123456, "request_id": "req-1", "client": "10.0.0.1", "method": "POST",
    "path": "/v1/chat/completions", "status": 200, "model": "m", "region": "us-east-1",
    "stream": True, "duration_ms": 1234.5, "ttft_ms": 210.0, "tokens_in": 12, "tokens_out": 34,
    "bytes_sent": 999, "error_code": None, "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "user_agent": "openai-python/1.0",
}


def lines(buffer: io.StringIO | io.BytesIO) -> list[dict]:
    raw = buffer.getvalue()
    text = raw.decode() if isinstance(raw, bytes) else raw
    assert text.endswith("\n")
    return [orjson.loads(line) for line in text.splitlines()]


def test_one_line_per_record_with_documented_fields_in_order() -> None:
    out = io.StringIO()
    log = AccessLog(out)
    log.write(RECORD)
    log.write({**RECORD, "request_id": "req-2", "status": 429, "error_code": "throttled"})
    first, second = lines(out)
    assert list(first) == list(FIELDS)
    assert first["time"] == "2025-01-31T12:00:00.123Z"
    assert first["stream"] is True and first["tokens_out"] == 34
    assert second["request_id"] == "req-2" and second["error_code"] == "throttled"


def test_binary_stream() -> None:
    out = io.BytesIO()
    AccessLog(out).write(RECORD)
    assert lines(out)[0]["request_id"] == "req-1"


def test_unknown_keys_and_non_scalars_are_dropped() -> None:
    out = io.StringIO()
    AccessLog(out).write({
        **RECORD,
        "messages": [{"role": "user", "content": "my secret prompt"}],
        "authorization": "Bearer sk-123",
        "api_key": "sk-123",
        "model": {"nested": "my secret prompt"},
    })
    text = out.getvalue()
    assert "secret" not in text and "sk-123" not in text
    (line,) = lines(out)
    assert set(line) == set(FIELDS)
    assert line["model"] is None


def test_missing_fields_are_null_and_time_is_filled() -> None:
    out = io.StringIO()
    AccessLog(out).write({"status": 200, "path": "/health?token=abc"})
    (line,) = lines(out)
    assert line["request_id"] is None and line["tokens_in"] is None
    assert line["path"] == "/health"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])


def test_string_time_is_kept_and_user_agent_truncated() -> None:
    out = io.StringIO()
    AccessLog(out).write({"time": "2025-01-01T00:00:00.000Z", "user_agent": "x" * 5000})
    (line,) = lines(out)
    assert line["time"] == "2025-01-01T00:00:00.000Z"
    assert len(line["user_agent"]) == 512


def test_disabled_writes_nothing() -> None:
    out = io.StringIO()
    AccessLog(out, enabled=False).write(RECORD)
    assert out.getvalue() == ""


def test_default_stream_is_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    AccessLog().write(RECORD)
    assert orjson.loads(capsys.readouterr().out)["request_id"] == "req-1"


def test_write_errors_do_not_propagate() -> None:
    out = io.StringIO()
    out.close()
    log = AccessLog(out)
    log.write(RECORD)
    log.write(RECORD)


def test_rfc3339_ms() -> None:
    assert rfc3339_ms(0) == "1970-01-01T00:00:00.000Z"
    assert rfc3339_ms(1.9996) == "1970-01-01T00:00:01.999Z"


@pytest.mark.parametrize(("peer", "xff", "trusted", "expected"), [
    ("10.0.0.9", None, 0, "10.0.0.9"),
    ("10.0.0.9", "1.2.3.4", 0, "10.0.0.9"),             # nobody trusted: header ignored
    ("10.0.0.9", "1.2.3.4", 1, "1.2.3.4"),              # behind one ALB
    ("10.0.0.9", "6.6.6.6, 1.2.3.4", 1, "1.2.3.4"),     # forged entry on the left is ignored
    ("10.0.0.9", "6.6.6.6, 1.2.3.4, 10.0.0.5", 2, "1.2.3.4"),  # CDN + ALB
    ("10.0.0.9", "1.2.3.4", 2, "10.0.0.9"),             # too few entries: did not pass proxies
    ("10.0.0.9", "", 1, "10.0.0.9"),
    ("10.0.0.9", "1.2.3.4,", 1, "10.0.0.9"),            # empty entry
    ("10.0.0.9", " 2001:db8::1 ", 1, "2001:db8::1"),
    (None, None, 0, None),
    (None, "1.2.3.4", 1, "1.2.3.4"),
])
def test_client_address(peer: str | None, xff: str | None, trusted: int,
                        expected: str | None) -> None:
    assert client_address(peer, xff, trusted) == expected
