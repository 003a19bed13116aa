"""The catalog as users see it: what is listed can be called; profiles, aliases, defaults; a slow
or failing control plane delays readiness but never crashes start-up, and a failed refresh keeps
the last good catalog."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import aiohttp
import openai
import pytest
from aiohttp import web

from bedrock_gateway.server.gateway_app import create_app
from tests.support.constants import HAIKU, TEST_KEY
from tests.support.inprocess_gateway import gateway_settings
from tests.support.local_http import wait_ready
from tests.support.polling import eventually

PROFILE_ONLY = "anthropic.claude-3-7-sonnet-20250219-v1:0"
MISTRAL = "mistral.mistral-large-2407-v1:0"  # us-west-2 only
NOVA_LITE = "amazon.nova-lite-v1:0"
APP_PROFILE = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123xyz"
PROFILE_PREFIXES = ("us.", "eu.", "global.", "arn:")

# What the emulator's us-east-1 and eu-west-1 listings make callable
# (see emulator/emulated_models.py):
# ON_DEMAND text and embedding models (not the image model, not the bare ids of models that are
# INFERENCE_PROFILE only), each region's system profiles, and the application profile.
US_EAST_1_AND_EU_WEST_1 = {
    # foundation models, ON_DEMAND -> the regions whose listing holds them
    "amazon.nova-lite-v1:0": {"us-east-1", "eu-west-1"},
    "amazon.nova-pro-v1:0": {"us-east-1", "eu-west-1"},
    "anthropic.claude-3-5-sonnet-20240620-v1:0": {"us-east-1", "eu-west-1"},
    "anthropic.claude-3-haiku-20240307-v1:0": {"us-east-1", "eu-west-1"},
    "anthropic.claude-v2:1": {"us-east-1"},  # LEGACY: still callable
    "meta.llama3-1-8b-instruct-v1:0": {"us-east-1"},
    "openai.gpt-oss-120b-1:0": {"us-east-1"},
    "amazon.titan-embed-text-v1": {"us-east-1", "eu-west-1"},
    "amazon.titan-embed-text-v2:0": {"us-east-1", "eu-west-1"},
    "cohere.embed-english-v3": {"us-east-1", "eu-west-1"},
    "cohere.embed-multilingual-v3": {"us-east-1", "eu-west-1"},
    # system-defined cross-region profiles
    "us.amazon.nova-lite-v1:0": {"us-east-1"},
    "us.amazon.nova-pro-v1:0": {"us-east-1"},
    "us.anthropic.claude-3-5-sonnet-20240620-v1:0": {"us-east-1"},
    "us.anthropic.claude-3-7-sonnet-20250219-v1:0": {"us-east-1"},
    "us.anthropic.claude-3-haiku-20240307-v1:0": {"us-east-1"},
    "us.anthropic.claude-sonnet-4-20250514-v1:0": {"us-east-1"},
    "us.deepseek.r1-v1:0": {"us-east-1"},
    "us.meta.llama3-1-8b-instruct-v1:0": {"us-east-1"},
    "eu.amazon.nova-lite-v1:0": {"eu-west-1"},
    "eu.amazon.nova-pro-v1:0": {"eu-west-1"},
    "eu.anthropic.claude-3-5-sonnet-20240620-v1:0": {"eu-west-1"},
    "eu.anthropic.claude-3-7-sonnet-20250219-v1:0": {"eu-west-1"},
    "eu.anthropic.claude-3-haiku-20240307-v1:0": {"eu-west-1"},
    "eu.anthropic.claude-sonnet-4-20250514-v1:0": {"eu-west-1"},
    "global.anthropic.claude-sonnet-4-20250514-v1:0": {"us-east-1", "eu-west-1"},
    "us.anthropic.claude-opus-4-1-20250805-v1:0": {"us-east-1"},
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0": {"us-east-1"},
    "eu.anthropic.claude-sonnet-4-5-20250929-v1:0": {"eu-west-1"},
    "global.anthropic.claude-sonnet-4-5-20250929-v1:0": {"us-east-1", "eu-west-1"},
    "us.anthropic.claude-haiku-4-5-20251001-v1:0": {"us-east-1"},
    "eu.anthropic.claude-haiku-4-5-20251001-v1:0": {"eu-west-1"},
    "global.anthropic.claude-haiku-4-5-20251001-v1:0": {"us-east-1", "eu-west-1"},
    # the application inference profile (us-east-1)
    APP_PROFILE: {"us-east-1"},
}


async def model_ids(gateway) -> list[str]:
    async with gateway.client() as client:
        return [m.id for m in (await client.models.list()).data]


def calls(stats: dict, operation: str) -> list[tuple[str, str]]:
    return [(r["region"], r["model"]) for r in stats["recent"] if r["operation"] == operation]


def assert_openai_error(payload: dict, status_code: str) -> dict:
    assert set(payload) == {"error"}
    assert set(payload["error"]) == {"message", "type", "param", "code"}
    assert payload["error"]["code"] == status_code
    return payload["error"]


# --- what is listed ---------------------------------------------------------------------------

async def test_listed_models_are_exactly_the_callable_ones_and_all_answer(make_gateway, emulator):
    gateway = await make_gateway(bedrock_regions=("us-east-1", "eu-west-1"))
    ids = await model_ids(gateway)
    assert sorted(ids) == ids and len(set(ids)) == len(ids)
    assert set(ids) == set(US_EAST_1_AND_EU_WEST_1)
    assert "stability.sd3-5-large-v1:0" not in ids  # image output: neither chat nor embeddings
    assert PROFILE_ONLY not in ids  # listed only as its profiles
    assert MISTRAL not in ids  # us-west-2 is not configured

    async with gateway.client() as client:
        for model in ids:
            await emulator.reset()
            assert (await client.models.retrieve(model)).id == model
            if "embed" in model:
                result = await client.embeddings.create(model=model, input="hello there")
                assert result.data[0].embedding, model
                operation = "invoke"
            else:
                response = await client.chat.completions.create(
                    model=model, messages=[{"role": "user", "content": "hi [[emu chunks=2]]"}])
                assert response.choices[0].message.content, model
                assert response.model == model
                operation = "converse"
            # Sent as listed, to a region whose listing holds it.
            [(region, sent)] = calls(await emulator.stats(), operation)
            assert sent == model
            assert region in US_EAST_1_AND_EU_WEST_1[model], (model, region)


async def test_bare_id_of_a_profile_only_model_is_routed_through_its_profile(client, emulator):
    response = await client.chat.completions.create(
        model=PROFILE_ONLY, messages=[{"role": "user", "content": "hi [[emu chunks=2]]"}])
    assert response.choices[0].message.content
    assert response.model == PROFILE_ONLY  # the client sees the name it asked for
    assert calls(await emulator.stats(), "converse") == [("us-east-1", f"us.{PROFILE_ONLY}")]


async def test_bare_id_picks_the_profile_of_the_primary_regions_geography(make_gateway, emulator):
    gateway = await make_gateway(bedrock_regions=("eu-west-1", "us-east-1"))
    async with gateway.client() as client:
        stream = await client.chat.completions.create(
            model=PROFILE_ONLY, stream=True,
            messages=[{"role": "user", "content": "hi [[emu chunks=2]]"}])
        assert [c async for c in stream]
    assert calls(await emulator.stats(), "converse-stream") == [("eu-west-1", f"eu.{PROFILE_ONLY}")]


@pytest.mark.parametrize("cross_region, application", [(False, False), (False, True),
                                                       (True, False)])
async def test_profiles_can_be_switched_off(make_gateway, cross_region, application):
    gateway = await make_gateway(bedrock_regions=("us-east-1", "eu-west-1"),
                                 enable_cross_region_inference=cross_region,
                                 enable_application_inference_profiles=application)
    ids = await model_ids(gateway)
    assert HAIKU in ids and "cohere.embed-english-v3" in ids  # foundation models stay
    for prefix in ("us.", "eu.", "global."):
        assert any(i.startswith(prefix) for i in ids) is cross_region, prefix
    assert (APP_PROFILE in ids) is application
    if not cross_region and not application:
        assert not any(i.startswith(PROFILE_PREFIXES) for i in ids)
    async with gateway.client() as client:
        if cross_region:
            assert (await client.chat.completions.create(
                model=PROFILE_ONLY, messages=[{"role": "user", "content": "hi"}])).choices
        else:
            # Without profiles a profile-only model cannot be called: neither it nor its
            # profile is offered.
            for model in (PROFILE_ONLY, f"us.{PROFILE_ONLY}"):
                with pytest.raises(openai.NotFoundError) as info:
                    await client.chat.completions.create(
                        model=model, messages=[{"role": "user", "content": "hi"}])
                assert model in info.value.body["message"]
        if not application:
            with pytest.raises(openai.NotFoundError):
                await client.chat.completions.create(
                    model=APP_PROFILE, messages=[{"role": "user", "content": "hi"}])


# --- names: aliases, defaults, unknown --------------------------------------------------------

async def test_aliases_from_a_file(make_gateway, emulator, tmp_path):
    aliases = tmp_path / "aliases.yaml"
    aliases.write_text(f"gpt-4o-mini: {HAIKU}\n"
                       f"text-embedding-3-small: cohere.embed-english-v3\n"
                       f"claude-latest: {PROFILE_ONLY}\n"
                       "broken: no.such-model-v1\n")
    gateway = await make_gateway(model_aliases_file=str(aliases))
    async with gateway.client() as client:
        for alias in ("gpt-4o-mini", "claude-latest"):
            response = await client.chat.completions.create(
                model=alias, messages=[{"role": "user", "content": "hi [[emu chunks=2]]"}])
            assert response.model == alias
            assert response.choices[0].message.content
        result = await client.embeddings.create(model="text-embedding-3-small", input="x")
        assert result.model == "text-embedding-3-small" and result.data[0].embedding
        assert (await client.models.retrieve("gpt-4o-mini")).id == "gpt-4o-mini"
        # Listed under their own names, with the owner of the model they stand for; the
        # models behind them stay listed, and a dropped alias is not offered.
        listed = {m.id: m.owned_by for m in (await client.models.list()).data}
        assert listed["gpt-4o-mini"] == listed[HAIKU] == "Anthropic"
        assert listed["text-embedding-3-small"] == listed["cohere.embed-english-v3"] == "Cohere"
        assert "claude-latest" in listed and PROFILE_ONLY not in listed
        assert "broken" not in listed
        # An alias whose target is not in the catalog is dropped, not fatal.
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(
                model="broken", messages=[{"role": "user", "content": "hi"}])
    stats = await emulator.stats()
    assert calls(stats, "converse") == [("us-east-1", HAIKU), ("us-east-1", f"us.{PROFILE_ONLY}")]
    assert calls(stats, "invoke") == [("us-east-1", "cohere.embed-english-v3")]


async def test_default_model_when_the_request_names_none(make_gateway, emulator):
    gateway = await make_gateway(default_model=NOVA_LITE)
    async with aiohttp.ClientSession() as session, session.post(
            f"{gateway.base_url}/chat/completions",
            headers={"Authorization": f"Bearer {TEST_KEY}"},
            json={"messages": [{"role": "user", "content": "hi"}]}) as response:
        assert response.status == 200
        body = await response.json()
    assert body["model"] == NOVA_LITE
    assert body["choices"][0]["message"]["content"]
    assert calls(await emulator.stats(), "converse") == [("us-east-1", NOVA_LITE)]


async def test_unknown_model_is_404_in_openai_shape_naming_it(gateway, emulator):
    headers = {"Authorization": f"Bearer {TEST_KEY}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        for method, path, body in (
                ("POST", "/chat/completions",
                 {"model": "anthropic.claude-9", "messages": [{"role": "user", "content": "x"}]}),
                ("POST", "/embeddings", {"model": "anthropic.claude-9", "input": "x"}),
                ("GET", "/models/anthropic.claude-9", None)):
            async with session.request(method, gateway.base_url + path, json=body) as response:
                assert response.status == 404, path
                error = assert_openai_error(await response.json(), "model_not_found")
        assert "anthropic.claude-9" in error["message"]
        assert error["param"] == "model" and error["type"] == "invalid_request_error"
    async with gateway.client() as client:
        with pytest.raises(openai.NotFoundError) as info:
            await client.chat.completions.create(
                model="anthropic.claude-9", messages=[{"role": "user", "content": "hi"}])
    assert "anthropic.claude-9" in info.value.body["message"]
    stats = await emulator.stats()
    assert calls(stats, "converse") == [] and calls(stats, "invoke") == []  # never sent


async def test_an_embedding_model_on_chat_is_a_400_naming_it(client, emulator):
    with pytest.raises(openai.BadRequestError) as info:
        await client.chat.completions.create(
            model="cohere.embed-english-v3", messages=[{"role": "user", "content": "hi"}])
    assert info.value.body["param"] == "model"
    assert "cohere.embed-english-v3" in info.value.body["message"]
    assert calls(await emulator.stats(), "converse") == []


# --- readiness and refresh --------------------------------------------------------------------

@contextlib.asynccontextmanager
async def unready_gateway(**overrides: object) -> AsyncIterator[str]:
    """A real gateway on a real port that, unlike the `make_gateway` fixture, does not wait for
    its catalog: yields its root URL as soon as it listens."""
    app = create_app(gateway_settings(**overrides), environ={})
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def test_failing_control_plane_delays_readiness_without_crashing(emulator):
    # ListFoundationModels fails in both regions for the first three refresh rounds (two calls
    # a round; AccessDenied, e.g. an IAM role not yet propagated, which botocore does not retry).
    await emulator.add_fault(region="*", operation="list-foundation-models",
                             error="AccessDeniedException", times=6)
    interval = 0.5  # the backoff after a failed round is capped by the refresh interval
    headers = {"Authorization": f"Bearer {TEST_KEY}"}
    async with unready_gateway(bedrock_regions=("us-east-1", "us-west-2"),
                               model_refresh_seconds=interval) as root, \
            aiohttp.ClientSession(headers=headers) as session:
        async with session.get(f"{root}/health") as response:
            assert response.status == 200  # the process is up
        async with session.get(f"{root}/ready") as response:
            assert response.status == 503
            assert (await response.json())["checks"]["catalog"] is False
        async with session.post(f"{root}/api/v1/chat/completions",
                                json={"model": HAIKU,
                                      "messages": [{"role": "user", "content": "x"}]}) as response:
            assert response.status == 503
            assert int(response.headers["Retry-After"]) >= 1
            assert_openai_error(await response.json(), "catalog_not_ready")
        async with session.get(f"{root}/api/v1/models") as response:
            assert response.status == 503

        async def now_ready() -> bool:
            async with session.get(f"{root}/ready") as response:
                return response.status == 200

        await eventually(now_ready, what="ready once the catalog is loaded")
        stats = await emulator.stats()
        async with session.post(f"{root}/api/v1/chat/completions",
                                json={"model": MISTRAL,
                                      "messages": [{"role": "user", "content": "x"}]}) as response:
            assert response.status == 200  # the first catalog holds both regions' models
    listing = sorted(r["ts"] for r in stats["recent"] if r["operation"] == "list-foundation-models")
    assert len(listing) >= 8  # three failed rounds and the good one, two regions each
    # Retried with a pause (at least half the capped backoff) between rounds, not in a hot loop.
    assert listing[7] - listing[0] >= 3 * interval * 0.5 * 0.9


async def test_a_region_down_at_start_joins_the_catalog_when_it_recovers(emulator):
    # us-west-2's control plane fails for the first four rounds: the gateway is ready with
    # us-east-1's models, and Mistral (us-west-2 only) appears once us-west-2 answers.
    await emulator.add_fault(region="us-west-2", operation="list-foundation-models",
                             error="AccessDeniedException", times=4)
    headers = {"Authorization": f"Bearer {TEST_KEY}"}
    async with unready_gateway(bedrock_regions=("us-east-1", "us-west-2"),
                               model_refresh_seconds=0.3) as root, \
            aiohttp.ClientSession(headers=headers) as session:
        await wait_ready(f"{root}/ready")
        async with session.get(f"{root}/api/v1/models") as response:
            first = {m["id"] for m in (await response.json())["data"]}
        assert HAIKU in first and MISTRAL not in first

        async def mistral_listed() -> bool:
            async with session.get(f"{root}/api/v1/models") as response:
                return MISTRAL in {m["id"] for m in (await response.json())["data"]}

        await eventually(mistral_listed, what="us-west-2's models joined the catalog")
        await emulator.reset()
        async with session.post(f"{root}/api/v1/chat/completions",
                                json={"model": MISTRAL,
                                      "messages": [{"role": "user", "content": "x"}]}) as response:
            assert response.status == 200
    assert calls(await emulator.stats(), "converse") == [("us-west-2", MISTRAL)]


async def wait_for_calls(emulator, region: str, operation: str, count: int) -> None:
    async def made() -> bool:
        return sum(1 for r in (await emulator.stats())["recent"]
                   if r["operation"] == operation and r["region"] == region) >= count

    await eventually(made, what=f"{count} {operation} calls in {region}")


async def test_a_failed_refresh_keeps_the_last_good_catalog(make_gateway, emulator):
    gateway = await make_gateway(bedrock_regions=("us-east-1", "us-west-2"),
                                 model_refresh_seconds=0.2)
    before = await model_ids(gateway)
    assert MISTRAL in before and HAIKU in before
    headers = {"Authorization": f"Bearer {TEST_KEY}"}

    # One region's listing fails: its last good listing is kept (Mistral lives there only).
    await emulator.reset()
    await emulator.add_fault(region="us-west-2", operation="list-foundation-models",
                             error="AccessDeniedException")
    await wait_for_calls(emulator, "us-west-2", "list-foundation-models", 3)
    assert await model_ids(gateway) == before
    async with gateway.client() as client:
        assert (await client.chat.completions.create(
            model=MISTRAL, messages=[{"role": "user", "content": "hi"}])).choices

    # Every region fails: the whole catalog stays, and so does readiness.
    await emulator.reset()
    await emulator.add_fault(region="*", operation="list-foundation-models",
                             error="AccessDeniedException")
    await wait_for_calls(emulator, "us-east-1", "list-foundation-models", 3)
    await wait_for_calls(emulator, "us-west-2", "list-foundation-models", 3)
    assert await model_ids(gateway) == before
    async with aiohttp.ClientSession(headers=headers) as session, \
            session.get(f"{gateway.root}/ready") as response:
        assert response.status == 200
    async with gateway.client() as client:
        for model in (HAIKU, MISTRAL):
            assert (await client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "hi"}])).choices
