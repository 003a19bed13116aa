"""Drop-in behaviour for the incumbent's users: CORS (ALLOWED_ORIGINS, default "*") over real
HTTP, and DEFAULT_MAX_TOKENS reaching Bedrock. The browser's own view of CORS is
tests/browser/test_browser_cors.py (a real headless Chromium)."""

from __future__ import annotations

import aiohttp
import pytest

from tests.support.constants import HAIKU, TEST_KEY

ORIGIN = "https://app.example.com"
CHAT = "/api/v1/chat/completions"


def preflight_headers(origin: str = ORIGIN) -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, x-stainless-os"}


async def test_preflight_is_answered_before_auth_with_any_origin(make_gateway):
    gateway = await make_gateway()  # default ALLOWED_ORIGINS: "*"
    async with aiohttp.ClientSession() as session:
        async with session.options(gateway.root + CHAT, headers=preflight_headers()) as resp:
            assert resp.status == 204  # no key on a preflight, and no 401
            assert resp.headers["Access-Control-Allow-Origin"] == "*"
            assert "POST" in resp.headers["Access-Control-Allow-Methods"]
            assert resp.headers["Access-Control-Allow-Headers"] == (
                "authorization, content-type, x-stainless-os")
            assert "Access-Control-Allow-Credentials" not in resp.headers
        # The actual request: CORS headers on success, with the headers clients read exposed.
        async with session.post(gateway.root + CHAT, headers={
                "Origin": ORIGIN, "Authorization": f"Bearer {TEST_KEY}"},
                json={"model": HAIKU, "stream": True,
                      "messages": [{"role": "user", "content": "hi [[emu chunks=3]]"}]}) as resp:
            assert resp.status == 200
            assert resp.headers["Access-Control-Allow-Origin"] == "*"
            exposed = {h.strip().lower() for h in
                       resp.headers["Access-Control-Expose-Headers"].split(",")}
            assert {"x-request-id", "retry-after"} <= exposed
            assert "Access-Control-Allow-Credentials" not in resp.headers
            assert (await resp.read()).endswith(b"data: [DONE]\n\n")
        # ... and on errors, so a browser can read why it failed.
        async with session.post(gateway.root + CHAT, headers={"Origin": ORIGIN},
                                json={}) as resp:
            assert resp.status == 401
            assert resp.headers["Access-Control-Allow-Origin"] == "*"


async def test_listed_origins_only(make_gateway):
    gateway = await make_gateway(allowed_origins=(ORIGIN, "http://localhost:3000"))
    async with aiohttp.ClientSession() as session:
        async with session.options(gateway.root + CHAT, headers=preflight_headers()) as resp:
            assert resp.status == 204
            assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
            assert "Origin" in resp.headers.getall("Vary")
            assert "Access-Control-Allow-Credentials" not in resp.headers
        other = preflight_headers("https://evil.example")
        async with session.options(gateway.root + CHAT, headers=other) as resp:
            assert resp.status == 403
            assert "Access-Control-Allow-Origin" not in resp.headers
        async with session.get(gateway.root + "/api/v1/models", headers={
                "Origin": "https://evil.example",
                "Authorization": f"Bearer {TEST_KEY}"}) as resp:
            assert resp.status == 200  # not a browser: served, but without CORS headers
            assert "Access-Control-Allow-Origin" not in resp.headers


async def test_cors_off_when_no_origins(make_gateway):
    gateway = await make_gateway(allowed_origins=())
    async with aiohttp.ClientSession() as session, session.options(
            gateway.root + CHAT, headers=preflight_headers()) as resp:
        assert resp.status in (401, 405)
        assert "Access-Control-Allow-Origin" not in resp.headers


async def test_malformed_request_headers_are_not_echoed(make_gateway):
    gateway = await make_gateway()
    headers = {**preflight_headers(), "Access-Control-Request-Headers": "x-ok, bad(name), {c}"}
    async with aiohttp.ClientSession() as session, session.options(
            gateway.root + CHAT, headers=headers) as resp:
        assert resp.status == 204
        assert "Access-Control-Allow-Headers" not in resp.headers


@pytest.mark.parametrize(("default", "client", "expected"), [
    (321, None, 321),  # the client set none: DEFAULT_MAX_TOKENS
    (321, 50, 50),  # the client's number wins
    (None, None, None),  # unset: the model's own default (no maxTokens sent)
])
async def test_default_max_tokens(make_gateway, emulator, default, client, expected):
    gateway = await make_gateway(default_max_tokens=default)
    extra = {} if client is None else {"max_tokens": client}
    async with gateway.client() as openai_client:
        await openai_client.chat.completions.create(
            model=HAIKU, messages=[{"role": "user", "content": "hi"}], **extra)
    [request] = [r["request"] for r in (await emulator.stats())["recent"]
                 if r["operation"].startswith("converse")]
    assert (request.get("inferenceConfig") or {}).get("maxTokens") == expected
