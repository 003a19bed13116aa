"""Shared fixtures: the Bedrock emulator as a real separate process, and real gateways over HTTP.

The gateway under test is the real aiohttp app with the real aiobotocore/botocore stack; it reaches
the emulator through the standard AWS_ENDPOINT_URL_* variables, exactly as in `make demo`.
Fixtures only: what tests import lives in tests/support (constants, the emulator admin client,
the in-process gateway, the `eventually()` poller).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from aiohttp import web
from openai import AsyncOpenAI

from tests.support.emulator_admin import EmulatorAdmin
from tests.support.inprocess_gateway import (
    Gateway,
    forget_stopped_apps,
    gateway_settings,
    start_gateway_app,
)
from tests.support.local_http import serve_images
from tests.support.otlp_receiver import OtlpReceiver


@pytest.fixture(scope="session")
def emulator_url() -> Iterator[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bedrock_gateway.emulator", "--host", "127.0.0.1", "--port", "0",
         "--delay-ms", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    url = None
    assert proc.stdout is not None
    for _ in range(200):
        line = proc.stdout.readline()
        if not line:
            break
        match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        if match:
            url = match.group(1)
            break
    if url is None:
        proc.kill()
        raise RuntimeError("the emulator did not start")
    saved = {k: os.environ.get(k) for k in _AWS_ENV}
    os.environ.update({
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": url,
        "AWS_ENDPOINT_URL_BEDROCK": url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    })
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK"):
        os.environ.pop(name, None)
    try:
        yield url
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


_AWS_ENV = ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_ENDPOINT_URL_BEDROCK", "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_SESSION_TOKEN",
            "AWS_BEARER_TOKEN_BEDROCK")


@pytest.fixture
async def emulator(emulator_url: str) -> AsyncIterator[EmulatorAdmin]:
    control = EmulatorAdmin(emulator_url)
    await control.reset()
    yield control
    await control.clear_faults()


@pytest.fixture(autouse=True)
def _stopped_gateways_are_freed() -> Iterator[None]:
    """After every test (and its gateways' cleanup): see forget_stopped_apps."""
    yield
    forget_stopped_apps()


GatewayFactory = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def make_gateway(emulator: EmulatorAdmin) -> AsyncIterator[GatewayFactory]:
    """`await make_gateway(environ=None, **settings_overrides)`: a gateway on a free port,
    stopped at the end of the test."""
    runners: list[web.AppRunner] = []

    async def make(environ: dict[str, str] | None = None, **overrides: Any) -> Gateway:
        gateway = await start_gateway_app(gateway_settings(**overrides), environ)
        runners.append(gateway.runner)
        return gateway

    yield make
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def gateway(make_gateway: GatewayFactory) -> Gateway:
    return await make_gateway()


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[AsyncOpenAI]:
    async with gateway.client() as openai_client:
        yield openai_client


@pytest.fixture
async def receiver() -> AsyncIterator[OtlpReceiver]:
    """A real OTLP/HTTP receiver. Requested before `make_gateway`, it outlives the gateway: the
    gateway's shutdown flush (spans and GenAI metrics) then reaches it instead of retrying
    against a closed port."""
    async with OtlpReceiver() as otlp:
        yield otlp


@pytest.fixture
async def image_server() -> AsyncIterator[str]:
    """A loopback server with /cat.png, /page.html and /to?url= (redirects)."""
    async with serve_images() as url:
        yield url
