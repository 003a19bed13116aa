"""A stopped gateway leaves nothing alive in its process: no state of ours outlives the
application (no module-level registry, cache or task holds it, its router or its Bedrock
clients), once aiohttp's own middleware cache forgets it."""

from __future__ import annotations

import gc
import weakref

import aiohttp

from bedrock_gateway.server.app_state import ROUTER
from tests.support.constants import HAIKU, TEST_KEY
from tests.support.keys_admin import ADMIN_KEY, chat, create_key
from tests.support.inprocess_gateway import (
    forget_stopped_apps,
    gateway_settings,
    start_gateway_app,
)

# One request per front-end, streamed and not: (path, body).
_REQUESTS = [
    ("/v1/chat/completions", {"model": HAIKU, "messages": [{"role": "user", "content": "hi"}]}),
    ("/v1/chat/completions", {"model": HAIKU, "stream": True,
                              "messages": [{"role": "user", "content": "hi"}]}),
    ("/v1/responses", {"model": HAIKU, "input": "hi"}),
    ("/v1/messages", {"model": HAIKU, "max_tokens": 50, "stream": True,
                      "messages": [{"role": "user", "content": "hi"}]}),
    ("/v1/embeddings", {"model": "amazon.titan-embed-text-v2:0", "input": "hi"}),
]


async def test_a_stopped_gateway_leaves_nothing_alive(emulator):
    # Virtual keys on (embedded store) and one of them used: the key service and its limiter
    # are part of what must go.
    gateway = await start_gateway_app(gateway_settings(admin_api_key=ADMIN_KEY))
    try:
        created = await create_key(gateway.root, limits={"rpm": 100})
        assert (await chat(gateway.root, created["key"], model=HAIKU)).status == 200
        headers = {"Authorization": f"Bearer {TEST_KEY}", "anthropic-version": "2023-06-01"}
        async with aiohttp.ClientSession(headers=headers) as session:
            for path, body in _REQUESTS:
                async with session.post(gateway.root + path, json=body) as reply:
                    assert reply.status == 200, (path, await reply.text())
                    await reply.read()
            async with session.post(gateway.root + "/v1/chat/completions",
                                    json={"model": HAIKU, "messages": 3}) as reply:
                assert reply.status == 400
    finally:
        await gateway.runner.cleanup()
    app = weakref.ref(gateway.app)
    router = weakref.ref(gateway.app[ROUTER])
    del gateway
    forget_stopped_apps()
    gc.collect()
    assert app() is None, [type(r).__qualname__ for r in gc.get_referrers(app())]
    assert router() is None
