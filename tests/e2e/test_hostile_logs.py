"""The key never reaches any log: a real `python -m bedrock_gateway` process (debug logging and the
access log on) gets a battery of malformed raw requests carrying the key, then every line it wrote
to stdout and stderr is searched for the key. Also: no traceback for anything a client sent, and
a failed bind leaks nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess

import pytest

from tests.support.constants import HAIKU
from tests.support.raw_http import exchange, request
from tests.support.gateway_process import spawn_gateway
from tests.support.interpreter import gateway_command
from tests.support.local_http import free_port
from tests.support.polling import eventually

KEY = "sk-hostile-log-7f3a9c2e5b1d"
CHAT = "/api/v1/chat/completions"


def _battery() -> list[bytes]:
    key = KEY.encode()
    bearer = b"Bearer " + key
    body = b'{"model": "%s", "messages": [{"role": "user", "content": "hi"}]}' % HAIKU.encode()
    return [
        request("GET", "/health", raw_headers=b"Authorization: " + bearer + b"\x00\r\n"),
        request("POST", CHAT, raw_headers=b"Authorization : " + bearer + b"\r\n"),
        request("POST", CHAT, raw_headers=b"X-Note: a\r\n Authorization: " + bearer + b"\r\n"),
        request("POST", CHAT, raw_headers=b"Authorization: Bearer\r\n " + key + b"\r\n"),
        b"GET /v1/models?api_key=" + key + b"\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /v1/models?api_key=" + key + b" HTTP/1.1 junk\r\nHost: x\r\n\r\n",
        b"GET /v1/models/" + key + b"\x7f HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST " + key + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Api-Key: " + key + b"\r\n" + b"X" * 20000
        + b": y\r\n\r\n",
        request("POST", CHAT, raw_headers=b"Authorization: " + bearer + b"\xff\r\n"
                b"Content-Type: application/json\r\nContent-Length: 3\r\n") + b"{}}",
        request("POST", CHAT, raw_headers=b"Authorization: " + bearer + b"\r\n"
                b"Transfer-Encoding: chunked\r\n") + b"zz" + key + b"\r\n\r\n",
        request("POST", CHAT, raw_headers=b"Authorization: " + bearer + b"\r\n"
                b"Content-Encoding: gzip\r\n") + b"\x1f\x8b\x08\x00" + key * 4,
        request("POST", CHAT, {"Content-Type": "application/json"}, body,
                raw_headers=b"Authorization: " + bearer + b"\r\n"),  # a good one, for contrast
        request("POST", CHAT, {"Authorization": b"Bearer " + key[:-1] + b"\xfe",
                               "User-Agent": b"agent\xff"}, body),
        b"\x16\x03\x01" + key + b"\r\n\r\n",
    ]


async def test_no_key_and_no_traceback_in_any_log_line(emulator_url, tmp_path):
    port = free_port()
    env = {**os.environ, "API_KEY": KEY, "PORT": str(port), "HOST": "127.0.0.1",
           "METRICS_PORT": "0", "LOG_LEVEL": "DEBUG", "DEBUG": "true", "ACCESS_LOG": "true",
           "DRAIN_DELAY_SECONDS": "0", "SHUTDOWN_GRACE_SECONDS": "1", "DEFAULT_MODEL": HAIKU,
           "REQUEST_HEAD_TIMEOUT_SECONDS": "1", "PYTHONUNBUFFERED": "1"}
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    proc = spawn_gateway(env, stdout_path=out, stderr_path=err)
    try:
        await eventually(lambda: b"listening on" in err.read_bytes(), within=15,
                         what="the gateway listening")

        async def catalog_loaded() -> bool:
            return (await exchange(port, request("GET", "/ready"))).status == 200

        await eventually(catalog_loaded, within=15)
        statuses = []
        for data in _battery():
            response = await exchange(port, data)
            statuses.append(response.status)
        # A trickled head with the key, cut by the head timeout.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /health HTTP/1.1\r\nAuthorization: Bearer " + KEY.encode())
        assert (await reader.read()).startswith(b"HTTP/1.1 408")
        writer.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(proc.wait, 20)
    assert proc.returncode == 0
    assert all(s < 500 for s in statuses), str(statuses)
    assert 200 in statuses and statuses.count(401) >= 1, str(statuses)
    logs = out.read_bytes() + err.read_bytes()
    assert logs.count(b'"request_id"') >= 2  # the access log was on and written
    assert b"malformed request" in logs  # parser errors were logged, as one line each
    lines_with_key = [line for line in logs.splitlines() if KEY[-12:].encode() in line]
    assert not lines_with_key, lines_with_key
    for form in (KEY, KEY[3:], KEY[-12:]):
        assert form.encode() not in logs, form
        assert form.encode("utf-16-le") not in logs
    assert b"Traceback" not in logs


def test_a_failed_bind_leaks_nothing(emulator_url):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "API_KEY": KEY, "PORT": str(port), "HOST": "127.0.0.1",
               "METRICS_PORT": "0", "PYTHONDEVMODE": "1"}
        result = subprocess.run(gateway_command(), env=env,
                                capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert "cannot start" in result.stderr and "Traceback" not in result.stderr
    assert "Unclosed" not in result.stderr, result.stderr


@pytest.mark.parametrize("level", ["INFO"])
def test_log_filter_is_on_every_aiohttp_logger(level):
    import logging

    from bedrock_gateway.settings import Settings
    from bedrock_gateway.server.gateway_app import create_app
    from bedrock_gateway.telemetry.log_hygiene import AIOHTTP_LOGGERS, AiohttpLogFilter

    create_app(Settings.from_env({}, api_keys=(KEY,), metrics_port=0, log_level=level))
    for name in AIOHTTP_LOGGERS:
        assert any(isinstance(f, AiohttpLogFilter) for f in logging.getLogger(name).filters)
    record = logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1,
                               "Error handling request from %s: %s", ("1.2.3.4", KEY),
                               (ValueError, ValueError(KEY), None))
    AiohttpLogFilter().filter(record)
    assert KEY not in record.getMessage() and record.exc_info is None
    assert "ValueError" in record.getMessage()
