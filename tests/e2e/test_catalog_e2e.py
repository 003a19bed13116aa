"""The catalog as users see it: what is listed can be called; profiles, aliases, defaults; a slow
or failing control plane delays readiness but never crashes start-up."""

from __future__ import annotations

import asyncio

import aiohttp
import openai
import pytest
from aiohttp import web

from bedrock_gateway.server.app import create_app
from tests.conftest import HAIKU, TEST_KEY, gateway_settings

PROFILE_ONLY = "anthropic.claude-3-7-sonnet-20250219-v1:0"


async def model_ids(gateway) -> list[str]:
    async with gateway.client() as client:
        return [m.id for m in (await client.models.list()).data]


async def test_listed_models_can_all_be_called(gateway):
    ids = await model_ids(gateway)
    assert PROFILE_ONLY not in ids  # only reachable through its profiles
    assert f"us.{PROFILE_ONLY}" in ids
    chat_ids = [i for i in ids if "embed" not in i]
    async with gateway.client() as client:
        for model in chat_ids:
            response = await client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "hi [[emu chunks=2]]"}])
            assert response.choices[0].message.content, model


async def test_bare_id_of_a_profile_only_model_is_routed_through_its_profile(client, emulator):
    response = await client.chat.completions.create(
        model=PROFILE_ONLY, messages=[{"role": "user", "content": "hi [[emu chunks=2]]"}])
    assert response.model == PROFILE_ONLY
    seen = [r["model"] for r in (await emulator.stats())["recent"] if r["operation"] == "converse"]
    assert seen == [f"us.{PROFILE_ONLY}"]


async def test_profiles_can_be_switched_off(make_gateway):
    gateway = await make_gateway(enable_cross_region_inference=False,
                                 enable_application_inference_profiles=False)
    ids = await model_ids(gateway)
    assert HAIKU in ids
    assert not any(i.startswith(("us.", "eu.", "global.", "arn:")) for i in ids)


async def test_aliases_from_a_file(make_gateway, tmp_path):
    aliases = tmp_path / "aliases.yaml"
    aliases.write_text(f"gpt-4o-mini: {HAIKU}\n")
    gateway = await make_gateway(model_aliases_file=str(aliases))
    async with gateway.client() as client:
        response = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi [[emu chunks=2]]"}])
        assert response.model == "gpt-4o-mini"
        assert (await client.models.retrieve("gpt-4o-mini")).id == "gpt-4o-mini"


async def test_unknown_model_404_names_it(client):
    with pytest.raises(openai.NotFoundError) as info:
        await client.chat.completions.create(
            model="anthropic.claude-9", messages=[{"role": "user", "content": "hi"}])
    assert "anthropic.claude-9" in info.value.body["message"]


async def test_failing_control_plane_delays_readiness_without_crashing(emulator):
    # The first three ListFoundationModels calls fail in every region.
    await emulator.add_fault(region="*", operation="list-foundation-models",
                             error="ServiceUnavailableException", times=3)
    app = create_app(gateway_settings(model_refresh_seconds=60, bedrock_max_attempts=1),
                     environ={})
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    statuses = []
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/ready") as response:
                statuses.append(response.status)
            async with session.post(
                    f"http://127.0.0.1:{port}/api/v1/chat/completions",
                    headers={"Authorization": f"Bearer {TEST_KEY}"},
                    json={"model": HAIKU, "messages": [{"role": "user", "content": "x"}]},
            ) as response:
                early = response.status, (await response.json())["error"]["code"]
            for _ in range(100):
                async with session.get(f"http://127.0.0.1:{port}/ready") as response:
                    statuses.append(response.status)
                    if response.status == 200:
                        break
                await asyncio.sleep(0.1)
    finally:
        await runner.cleanup()
    assert statuses[0] == 503 and statuses[-1] == 200
    assert early == (503, "catalog_not_ready")
    stats = await emulator.stats()
    assert sum(1 for r in stats["recent"] if r["operation"] == "list-foundation-models") >= 4
