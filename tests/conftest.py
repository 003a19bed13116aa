"""Shared fixtures: the Bedrock emulator as a real separate process, and real gateways over HTTP.

The gateway under test is the real aiohttp app with the real aiobotocore/botocore stack; it reaches
the emulator through the standard AWS_ENDPOINT_URL_* variables, exactly as in `make demo`.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web
from openai import AsyncOpenAI

from bedrock_gateway.server.gateway_app import create_app
from bedrock_gateway.server.app_state import CATALOG
from bedrock_gateway.server.protocol import GatewayRunner, runner_options
from bedrock_gateway.settings import Settings

TEST_KEY = "sk-test-0123456789"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


class EmulatorControl:
    """The emulator's control API (`/_emulator/...`), for scripting faults and reading stats."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    async def _call(self, method: str, path: str, json: object = None) -> dict:
        async with aiohttp.ClientSession() as session:
            async with session.request(method, f"{self.base_url}/_emulator/{path}",
                                       json=json) as response:
                response.raise_for_status()
                return await response.json(content_type=None) or {}

    async def reset(self) -> None:
        await self._call("POST", "reset")

    async def stats(self) -> dict:
        return await self._call("GET", "stats")

    async def add_fault(self, **rule: object) -> dict:
        return await self._call("POST", "faults", rule)

    async def clear_faults(self) -> None:
        await self._call("DELETE", "faults")

    async def wait_open_streams(self, expected: int, timeout: float = 2.0) -> int:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            open_streams = (await self.stats())["open_streams"]
            if open_streams == expected or loop.time() >= deadline:
                return open_streams
            await asyncio.sleep(0.02)


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
async def emulator(emulator_url: str) -> AsyncIterator[EmulatorControl]:
    control = EmulatorControl(emulator_url)
    await control.reset()
    yield control
    await control.clear_faults()


@dataclass
class Gateway:
    app: web.Application
    runner: web.AppRunner
    port: int
    settings: Settings

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.root + self.settings.api_route_prefix

    def client(self, **kwargs: object) -> AsyncOpenAI:
        options = {"max_retries": 0, "timeout": 30.0, **kwargs}
        return AsyncOpenAI(base_url=self.base_url, api_key=TEST_KEY, **options)


def gateway_settings(**overrides: object) -> Settings:
    base: dict[str, object] = {
        "api_keys": (TEST_KEY,),
        "aws_region": "us-east-1",
        "metrics_port": 0,
        "access_log": False,
        "drain_delay_seconds": 0.0,
        "default_model": HAIKU,
    }
    base.update(overrides)
    return Settings.from_env({}, **base)


@pytest.fixture
async def make_gateway(emulator: EmulatorControl):
    runners: list[web.AppRunner] = []

    async def make(environ: dict | None = None, **overrides: object) -> Gateway:
        settings = gateway_settings(**overrides)
        app = create_app(settings, environ=environ or {})
        # The same runner options as `python -m bedrock_gateway` (a deep accept backlog and
        # handler cancellation on disconnect), on an ephemeral port.
        runner = GatewayRunner(app, **runner_options(settings))
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        async with asyncio.timeout(10):
            await app[CATALOG].ready.wait()
        return Gateway(app, runner, port, settings)

    yield make
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def gateway(make_gateway) -> Gateway:
    return await make_gateway()


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[AsyncOpenAI]:
    async with gateway.client() as openai_client:
        yield openai_client
