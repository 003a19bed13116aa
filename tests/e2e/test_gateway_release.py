"""A stopped gateway leaves nothing alive in its process: no state of ours outlives the
application (no module-level registry, cache or task holds it, its router or its Bedrock
clients), once aiohttp's own middleware cache forgets it. The gateway has served every
front-end and a virtual key first."""

from __future__ import annotations

import gc
import weakref

import aiohttp

from bedrock_gateway.server.app_state import ROUTER
from tests.support.constants import HAIKU, TEST_KEY
from tests.support.inprocess_gateway import (
    forget_stopped_apps,
    gateway_settings,
    start_gateway_app,
)
from tests.support.keys_admin import ADMIN_KEY, chat, create_key
from tests.support.protocol_requests import BEDROCK_REQUESTS


async def test_a_stopped_gateway_leaves_nothing_alive(emulator):
    # Virtual keys on (embedded store) and one of them used: the key service and its limiter
    # are part of what must go.
    gateway = await start_gateway_app(gateway_settings(admin_api_key=ADMIN_KEY))
    try:
        created = await create_key(gateway.root, limits={"rpm": 100})
        assert (await chat(gateway.root, created["key"], model=HAIKU)).status == 200
        auth = {"Authorization": f"Bearer {TEST_KEY}"}
        async with aiohttp.ClientSession(headers=auth) as session:
            for path, body, headers in BEDROCK_REQUESTS:
                async with session.post(gateway.root + path, json=body,
                                        headers=headers) as reply:
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
