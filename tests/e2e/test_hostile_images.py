"""Hostile image URLs: bounded count, bytes and concurrency, validation before any fetch, fetches
cancelled with their request, and the SSRF guard's numeric IPv4 forms. A real HTTP server on
loopback stands in for the image host and counts what it was asked."""

from __future__ import annotations

import asyncio
import base64

import openai
import pytest
from aiohttp import web

from tests.support.constants import HAIKU
from tests.support.polling import eventually

TEXT_ONLY = "meta.llama3-1-8b-instruct-v1:0"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


class ImageHost:
    """/img/N.png (a PNG), /big/N.png (`big` bytes), /slow/N.png (never answers), /missing (404);
    counts requests and the handlers running now."""

    def __init__(self, big: int = 1 << 20) -> None:
        self.hits = 0
        self.active = 0
        self.peak_active = 0
        self.big = PNG + b"\0" * (big - len(PNG))
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _count(self, request: web.Request, handler):
        self.hits += 1
        self.active += 1
        self.peak_active = max(self.peak_active, self.active)
        try:
            return await handler(request)
        finally:
            self.active -= 1

    async def start(self) -> None:
        @web.middleware
        async def count(request: web.Request, handler):
            return await self._count(request, handler)

        app = web.Application(middlewares=[count])
        async def small(request: web.Request) -> web.Response:
            return web.Response(body=PNG, content_type="image/png")

        async def big(request: web.Request) -> web.Response:
            return web.Response(body=self.big, content_type="image/png")

        async def missing(request: web.Request) -> web.Response:
            return web.Response(status=404)

        app.router.add_get("/img/{n}.png", small)
        app.router.add_get("/big/{n}.png", big)
        app.router.add_get("/slow/{n}.png", self._slow)
        app.router.add_get("/missing", missing)
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def _slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(60)
        return web.Response(body=PNG, content_type="image/png")

    async def wait_idle(self) -> None:
        await eventually(lambda: self.active == 0, what="no image request in flight")

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def host():
    server = ImageHost()
    await server.start()
    yield server
    await server.close()


def image_message(*urls: str, text: str = "describe [[emu chunks=2]]") -> list[dict]:
    parts: list[dict] = [{"type": "text", "text": text}]
    parts += [{"type": "image_url", "image_url": {"url": u}} for u in urls]
    return [{"role": "user", "content": parts}]


@pytest.fixture
async def allowed(make_gateway):
    async def make(**overrides):
        return await make_gateway(image_fetch_allowlist=("127.0.0.1/32",), **overrides)
    return make


async def test_more_than_twenty_distinct_urls_fetch_nothing(allowed, host):
    gateway = await allowed()
    async with gateway.client() as client:
        with pytest.raises(openai.BadRequestError) as info:
            await client.chat.completions.create(model=HAIKU, messages=image_message(
                *(f"{host.url}/img/{n}.png" for n in range(21))))
        assert info.value.body["code"] == "too_many_images"
        assert info.value.body["param"] == "messages[0].content[21].image_url.url"
        # Forty mentions of twenty URLs are twenty images: served, each fetched once.
        urls = [f"{host.url}/img/{n % 20}.png" for n in range(40)]
        response = await client.chat.completions.create(model=HAIKU,
                                                        messages=image_message(*urls))
        assert response.choices[0].message.content
    assert host.hits == 20


async def test_a_request_that_fails_validation_fetches_nothing(allowed, host, emulator):
    gateway = await allowed()
    urls = [f"{host.url}/img/{n}.png" for n in range(20)]
    async with gateway.client() as client:
        with pytest.raises(openai.BadRequestError) as info:  # text-only model
            await client.chat.completions.create(model=TEXT_ONLY, messages=image_message(*urls))
        assert info.value.body["code"] == "unsupported_content"
        with pytest.raises(openai.BadRequestError):  # a bad tool after the images
            await client.chat.completions.create(
                model=HAIKU, messages=image_message(*urls),
                tools=[{"type": "function", "function": {"name": "bad name!"}}],
                tool_choice={"type": "function", "function": {"name": "other"}})
    assert host.hits == 0


async def test_the_first_failure_cancels_every_other_fetch(allowed, host):
    gateway = await allowed(image_fetch_concurrency=8, image_fetch_timeout_seconds=60)
    urls = [f"{host.url}/slow/{n}.png" for n in range(7)] + [f"{host.url}/missing"]
    async with gateway.client() as client:
        with pytest.raises(openai.BadRequestError) as info:
            await client.chat.completions.create(model=HAIKU, messages=image_message(*urls))
    assert info.value.body["code"] == "image_fetch_failed"
    await host.wait_idle()  # the slow fetches were cancelled, not left to their timeout


async def test_a_client_that_leaves_cancels_its_fetches(allowed, host):
    gateway = await allowed(image_fetch_timeout_seconds=60)
    async with gateway.client(timeout=1.0) as client:
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(model=HAIKU, messages=image_message(
                *(f"{host.url}/slow/{n}.png" for n in range(4))))
    await host.wait_idle()


async def test_fetch_concurrency_per_request_and_per_host(allowed, host):
    gateway = await allowed(image_fetch_concurrency=4, image_fetch_timeout_seconds=2)

    async def one(k: int) -> None:
        async with gateway.client() as client:
            with pytest.raises(openai.BadRequestError):
                await client.chat.completions.create(model=HAIKU, messages=image_message(
                    *(f"{host.url}/slow/{k}-{n}.png" for n in range(10))))

    await asyncio.gather(*(one(k) for k in range(4)))
    # 4 requests x 4 fetches at a time would be 16; one host gets at most 8 connections.
    assert 1 <= host.peak_active <= 8


async def test_total_bytes_per_request_are_capped(allowed):
    host = ImageHost(big=1 << 20)
    await host.start()
    try:
        gateway = await allowed(image_fetch_max_bytes=1 << 20,
                                image_fetch_max_total_bytes=(5 << 20) // 2)
        async with gateway.client() as client:
            with pytest.raises(openai.BadRequestError) as info:
                await client.chat.completions.create(model=HAIKU, messages=image_message(
                    *(f"{host.url}/big/{n}.png" for n in range(3))))
        assert info.value.body["code"] == "images_too_large"
    finally:
        await host.close()


async def test_process_image_budget_refuses_with_429(allowed, host):
    size = 1 << 20
    gateway = await allowed(image_fetch_max_bytes=size, image_fetch_max_total_bytes=size,
                            image_fetch_budget_bytes=size, image_fetch_timeout_seconds=30)
    async with gateway.client() as client:
        holder = asyncio.create_task(client.chat.completions.create(
            model=HAIKU, messages=image_message(f"{host.url}/slow/0.png")))
        await eventually(lambda: host.active > 0, what="the slow image requested")
        with pytest.raises(openai.RateLimitError) as info:
            await client.chat.completions.create(model=HAIKU, messages=image_message(
                f"{host.url}/img/1.png"))
        assert info.value.body["code"] == "memory_budget"
        assert "IMAGE_FETCH_BUDGET_BYTES" in info.value.body["message"]
        holder.cancel()
        with pytest.raises(asyncio.CancelledError):
            await holder
        await host.wait_idle()

        async def served() -> bool:
            try:
                await client.chat.completions.create(model=HAIKU, messages=image_message(
                    f"{host.url}/img/1.png"))
            except openai.RateLimitError:
                return False
            return True

        # The budget is given back when the request ends.
        await eventually(served, what="the image budget given back")


@pytest.mark.parametrize("form", ["2130706433", "127.1", "0177.0.0.1", "0x7f.1", "0x7f000001",
                                  "127.0.0.1."])
async def test_numeric_ipv4_forms_are_refused_by_the_ssrf_guard(client, host, form, emulator):
    port = host.url.rsplit(":", 1)[1]
    with pytest.raises(openai.BadRequestError) as info:
        await client.chat.completions.create(model=HAIKU, messages=image_message(
            f"http://{form}:{port}/img/0.png"))
    assert info.value.body["code"] == "image_url_forbidden"
    assert host.hits == 0


async def test_numeric_forms_of_an_allowed_address_are_fetched(allowed, host):
    gateway = await allowed()
    port = host.url.rsplit(":", 1)[1]
    async with gateway.client() as client:
        response = await client.chat.completions.create(model=HAIKU, messages=image_message(
            f"http://2130706433:{port}/img/0.png"))
    assert response.choices[0].message.content and host.hits == 1
