"""Fixtures: an in-process emulator on a free port, and real aiobotocore clients pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest
from aiobotocore.session import AioSession, get_session
from botocore.config import Config

from bedrock_gateway.emulator import EmulatorConfig, start_emulator
from tests.support.emulator_admin import EmulatorAdmin


@pytest.fixture(autouse=True)
def _plain_sigv4(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Bedrock API key in the environment would make botocore sign with a bearer token."""
    for name in ("AWS_BEARER_TOKEN_BEDROCK", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def aws_session() -> AioSession:
    session = get_session()
    session.set_credentials("test", "test")
    return session


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig()


@pytest.fixture
async def emu(emulator_config: EmulatorConfig) -> AsyncIterator[EmulatorAdmin]:
    runner, base_url = await start_emulator(emulator_config, "127.0.0.1", 0)
    try:
        yield EmulatorAdmin(base_url)
    finally:
        await runner.cleanup()


ClientFactory = Callable[..., Any]


@pytest.fixture
async def make_client(emu: EmulatorAdmin, aws_session: AioSession) -> AsyncIterator[ClientFactory]:
    """`await make_client(service="bedrock-runtime", region="us-east-1", **config)`."""
    async with AsyncExitStack() as stack:
        async def make(service: str = "bedrock-runtime", region: str = "us-east-1",
                       **config: Any) -> Any:
            options = {"retries": {"mode": "standard", "total_max_attempts": 1},
                       "read_timeout": 10, **config}
            return await stack.enter_async_context(aws_session.create_client(
                service, region_name=region, endpoint_url=emu.base_url,
                config=Config(**options)))

        yield make


@pytest.fixture
async def runtime(make_client: ClientFactory) -> Any:
    return await make_client()
