"""API keys: several valid at once, rotation through a mounted file without restart, and no
start without a key source."""

from __future__ import annotations

import os
import subprocess

import openai
import pytest
from openai import AsyncOpenAI

from tests.support.constants import HAIKU
from tests.support.interpreter import gateway_command
from tests.support.polling import eventually


async def ask(gateway, key: str) -> str:
    async with AsyncOpenAI(base_url=gateway.base_url, api_key=key, max_retries=0) as client:
        response = await client.chat.completions.create(
            model=HAIKU, messages=[{"role": "user", "content": "hi [[emu chunks=2]]"}])
        return response.choices[0].message.content or ""


async def accepted(gateway, key: str) -> bool:
    try:
        await ask(gateway, key)
        return True
    except openai.AuthenticationError:
        return False


async def test_key_file_rotation_without_restart(make_gateway, tmp_path):
    key_file = tmp_path / "api_key"
    key_file.write_text("sk-old-key-0123456789\n")
    gateway = await make_gateway(api_keys=(), api_key_file=str(key_file))
    assert await accepted(gateway, "sk-old-key-0123456789")
    assert not await accepted(gateway, "sk-new-key-0123456789")

    # Overlap: both keys valid while clients move over.
    key_file.write_text("sk-old-key-0123456789\nsk-new-key-0123456789\n")
    await eventually(lambda: accepted(gateway, "sk-new-key-0123456789"))
    assert await accepted(gateway, "sk-old-key-0123456789")

    # The old key is retired, the way Kubernetes swaps a Secret's symlink.
    replacement = tmp_path / "api_key.next"
    replacement.write_text('{"api_key": "sk-new-key-0123456789"}')
    os.replace(replacement, key_file)
    await eventually(lambda: _not(accepted(gateway, "sk-old-key-0123456789")))
    assert await accepted(gateway, "sk-new-key-0123456789")


async def _not(awaitable) -> bool:
    return not await awaitable


async def test_several_static_keys_are_valid(make_gateway):
    gateway = await make_gateway(api_keys=("sk-a-0123456789ab", "sk-b-0123456789ab"))
    assert await accepted(gateway, "sk-a-0123456789ab")
    assert await accepted(gateway, "sk-b-0123456789ab")
    assert not await accepted(gateway, "sk-c-0123456789ab")


@pytest.mark.parametrize("env, message", [
    ({}, "No API key source is configured"),
    ({"API_KEY": "key-0123456789abcdef", "PORT": "eighty"}, "PORT: expected a number"),
    ({"API_KEY": "key-0123456789abcdef", "ENABLE_PROMPT_CACHING": "maybe"},
     "ENABLE_PROMPT_CACHING"),
    ({"API_KEY": "key-0123456789abcdef", "MAX_CONCURRENT_REQUESTS": "0"},
     "MAX_CONCURRENT_REQUESTS must be at least 1"),
    ({"API_KEY": "key-0123456789abcdef", "API_ROUTE_PREFIX": "api"},
     "API_ROUTE_PREFIX must start with '/'"),
    ({"API_KEY": "short"}, "API_KEY: a key is shorter than 16 characters"),
])
def test_refuses_to_start_with_a_clear_message(env, message):
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("API_KEY", "OPENAI_API_KEY"))}
    result = subprocess.run([*gateway_command(), "--port", "0"],
                            env={**clean, **env}, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_key_file_stops_start_with_its_reason(tmp_path):
    env = {**os.environ, "API_KEY_FILE": str(tmp_path / "absent"), "METRICS_PORT": "0",
           "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": "http://127.0.0.1:9",
           "AWS_ENDPOINT_URL_BEDROCK": "http://127.0.0.1:9",
           "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    env.pop("API_KEY", None)
    result = subprocess.run([*gateway_command(), "--port", "0"],
                            env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "API_KEY_FILE" in result.stderr and "Traceback" not in result.stderr


@pytest.fixture
async def secrets_endpoint(monkeypatch):
    from aiohttp import web

    from tests.support.aws_secrets import SecretStore, create_secrets_app

    store = SecretStore()
    runner = web.AppRunner(create_secrets_app(store))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", url)
    yield store
    await runner.cleanup()


SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:gateway-api-key-AbCdEf"


async def test_secrets_manager_key_rotates_without_restart(make_gateway, secrets_endpoint):
    secrets_endpoint.secrets[SECRET_ARN] = '{"api_key": "sk-from-secret-1"}'
    gateway = await make_gateway(api_keys=(), api_key_secret_arn=SECRET_ARN,
                                 api_key_refresh_seconds=0.2)
    assert await accepted(gateway, "sk-from-secret-1")
    secrets_endpoint.secrets[SECRET_ARN] = '{"api_key": "sk-from-secret-2"}'
    await eventually(lambda: accepted(gateway, "sk-from-secret-2"))
    assert not await accepted(gateway, "sk-from-secret-1")
    assert secrets_endpoint.calls.count("secretsmanager.GetSecretValue") >= 2


async def test_ssm_parameter_keys(make_gateway, secrets_endpoint):
    secrets_endpoint.parameters["/gateway/api-keys"] = "sk-ssm-a-0123456789,sk-ssm-b-0123456789"
    gateway = await make_gateway(api_keys=(), api_key_param_name="/gateway/api-keys")
    assert await accepted(gateway, "sk-ssm-a-0123456789")
    assert await accepted(gateway, "sk-ssm-b-0123456789")
    assert not await accepted(gateway, "sk-other-0123456789")


async def test_a_failing_secret_source_keeps_the_last_keys(make_gateway, secrets_endpoint):
    secrets_endpoint.secrets[SECRET_ARN] = '{"api_key": "sk-kept-0123456789"}'
    gateway = await make_gateway(api_keys=(), api_key_secret_arn=SECRET_ARN,
                                 api_key_refresh_seconds=0.2)
    calls = secrets_endpoint.calls.count("secretsmanager.GetSecretValue")
    del secrets_endpoint.secrets[SECRET_ARN]  # the refresh now fails
    # Two failed refreshes later (polled, not slept for), the last keys still hold.
    await eventually(lambda: secrets_endpoint.calls.count("secretsmanager.GetSecretValue")
                     >= calls + 2, what="two failed refreshes")
    assert await accepted(gateway, "sk-kept-0123456789")


@pytest.mark.parametrize("broken", ['{"api_key": [null]}', '{"api_key": "tiny"}',
                                    '{"apikey": "sk-typo-0123456789"}', '["sk-ok-0123456789", 7]',
                                    '{"api_key": "sk-cut-0123456789"'])
async def test_a_malformed_secret_is_a_failed_refresh_that_keeps_the_last_keys(
        make_gateway, secrets_endpoint, broken, caplog):
    secrets_endpoint.secrets[SECRET_ARN] = '{"api_key": "sk-kept-0123456789"}'
    gateway = await make_gateway(api_keys=(), api_key_secret_arn=SECRET_ARN,
                                 api_key_refresh_seconds=0.1)
    calls = secrets_endpoint.calls.count("secretsmanager.GetSecretValue")
    secrets_endpoint.secrets[SECRET_ARN] = broken
    await eventually(lambda: secrets_endpoint.calls.count("secretsmanager.GetSecretValue")
                     >= calls + 2, what="two failed refreshes")
    assert await accepted(gateway, "sk-kept-0123456789")
    for fragment in ("None", "null", "tiny", "sk-typo-0123456789", "sk-ok-0123456789", "7"):
        assert not await accepted(gateway, fragment)
    assert "API_KEY_SECRET_ARN failed, keeping its last keys" in caplog.text
    assert "sk-kept" not in caplog.text and "sk-typo" not in caplog.text
