"""An image is what its bytes say, whichever way it comes: a fetched image is sniffed by its
magic bytes like a data URL (the Content-Type is only a hint). A PNG served as
application/octet-stream is sent as a PNG, a JPEG served as image/png as a JPEG, and an HTML page
served as image/png gets the 400 the same bytes in a data URL get, before Bedrock is called,
through chat completions, the Responses API and the Anthropic Messages API alike. A real HTTP
server on loopback serves the images; the emulator reports the format of each image it got."""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import AsyncIterator

import anthropic
import openai
import pytest
from aiohttp import web

from tests.support.constants import HAIKU, TEST_KEY

SONNET = "claude-sonnet-4-5"  # Anthropic's name: served natively (InvokeModel)
NOVA = "amazon.nova-lite-v1:0"  # served through Converse
HTML = b"<!doctype html><html><head><title>Not found</title></head><body>nope</body></html>"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"


def png_bytes() -> bytes:
    """A real 1x1 PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def data_url(data: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


@pytest.fixture
async def host() -> AsyncIterator[str]:
    """/octet.png: a PNG as application/octet-stream; /jpeg.png: a JPEG as image/png;
    /page.png: an HTML page as image/png; /endless.png: 8 MB of HTML as image/png, chunked (no
    Content-Length), so only a fetch that looks at the first bytes refuses it for what it is."""
    def served(body: bytes, content_type: str):
        async def handler(request: web.Request) -> web.Response:
            return web.Response(body=body, content_type=content_type)
        return handler

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        page = HTML + b" " * (65536 - len(HTML))
        try:
            for _ in range(128):
                await response.write(page)
        except ConnectionError:
            pass  # the gateway hung up: what it had was enough
        return response

    app = web.Application()
    app.router.add_get("/octet.png", served(png_bytes(), "application/octet-stream"))
    app.router.add_get("/jpeg.png", served(JPEG, "image/png"))
    app.router.add_get("/page.png", served(HTML, "image/png"))
    app.router.add_get("/endless.png", endless)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    await runner.cleanup()


@pytest.fixture
async def gateway(make_gateway):
    return await make_gateway(image_fetch_allowlist=("127.0.0.1/32",))


def image_message(url: str) -> list[dict]:
    return [{"role": "user", "content": [
        {"type": "text", "text": "describe [[emu chunks=2]]"},
        {"type": "image_url", "image_url": {"url": url}}]}]


async def converse_requests(emulator) -> list[dict]:
    return [r["request"] for r in (await emulator.stats())["recent"]
            if r["operation"].startswith("converse")]


@pytest.mark.parametrize(("path", "sent_as"), [("octet.png", "png"), ("jpeg.png", "jpeg")])
async def test_a_fetched_image_is_sent_as_what_its_bytes_say(gateway, emulator, host, path,
                                                              sent_as):
    async with gateway.client() as client:
        response = await client.chat.completions.create(
            model=HAIKU, messages=image_message(f"{host}/{path}"))
    assert response.choices[0].message.content
    [request] = await converse_requests(emulator)
    assert request["image_formats"] == [sent_as]


async def test_html_served_as_png_gets_the_400_a_data_url_of_it_gets(gateway, emulator, host):
    async with gateway.client() as client:
        errors = []
        for url in (f"{host}/page.png", data_url(HTML)):
            with pytest.raises(openai.BadRequestError) as info:
                await client.chat.completions.create(model=HAIKU, messages=image_message(url))
            errors.append((info.value.status_code, info.value.body["code"],
                           info.value.body["param"]))
        assert "'image/png'" in info.value.body["message"]
    assert errors[0] == errors[1] == (400, "invalid_image_format",
                                      "messages[0].content[1].image_url.url")
    assert await converse_requests(emulator) == []  # refused before Bedrock


async def test_a_long_page_is_refused_for_its_first_bytes(gateway, emulator, host):
    # 8 MB without Content-Length: read to the end, it would be refused as too large instead.
    async with gateway.client() as client:
        with pytest.raises(openai.BadRequestError) as info:
            await client.chat.completions.create(
                model=HAIKU, messages=image_message(f"{host}/endless.png"))
    assert info.value.body["code"] == "invalid_image_format"
    assert await converse_requests(emulator) == []


async def test_responses_api_sniffs_fetched_images(gateway, emulator, host):
    def content(url: str) -> list[dict]:
        return [{"role": "user", "content": [
            {"type": "input_text", "text": "describe [[emu chunks=2]]"},
            {"type": "input_image", "image_url": url}]}]

    async with gateway.client() as client:
        response = await client.responses.create(model=HAIKU,
                                                 input=content(f"{host}/octet.png"))
        assert response.status == "completed"
        [request] = await converse_requests(emulator)
        assert request["image_formats"] == ["png"]
        for url in (f"{host}/page.png", data_url(HTML)):
            with pytest.raises(openai.BadRequestError) as info:
                await client.responses.create(model=HAIKU, input=content(url))
            assert info.value.body["code"] == "invalid_image_format"
            assert info.value.body["param"] == "input[0].content[1].image_url"
    assert len(await converse_requests(emulator)) == 1


def anthropic_client(gateway) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(api_key=TEST_KEY, base_url=gateway.root, max_retries=0,
                                    timeout=30.0)


def anthropic_image(source: dict) -> list[dict]:
    return [{"role": "user", "content": [{"type": "image", "source": source},
                                         {"type": "text", "text": "describe [[emu chunks=2]]"}]}]


async def test_messages_api_sniffs_fetched_images(gateway, emulator, host):
    async with anthropic_client(gateway) as claude:
        message = await claude.messages.create(model=SONNET, max_tokens=50, messages=(
            anthropic_image({"type": "url", "url": f"{host}/octet.png"})))
        assert message.content[0].text
        [call] = [r for r in (await emulator.stats())["recent"] if r["operation"] == "invoke"]
        assert call["request"]["image_media_types"] == ["image/png"]
        for model in (SONNET, NOVA):
            with pytest.raises(anthropic.BadRequestError) as caught:
                await claude.messages.create(model=model, max_tokens=50, messages=(
                    anthropic_image({"type": "url", "url": f"{host}/page.png"})))
            assert caught.value.body["error"]["message"].startswith(
                "messages.0.content.0.source.url")
        # Through Converse, base64 images are checked the same way.
        with pytest.raises(anthropic.BadRequestError) as caught:
            await claude.messages.create(model=NOVA, max_tokens=50, messages=anthropic_image(
                {"type": "base64", "media_type": "image/png",
                 "data": base64.b64encode(HTML).decode()}))
        assert caught.value.body["error"]["message"].startswith(
            "messages.0.content.0.source.data")
        message = await claude.messages.create(model=NOVA, max_tokens=50, messages=(
            anthropic_image({"type": "url", "url": f"{host}/jpeg.png"})))
        assert message.content[0].text
    formats = [r["request"]["image_formats"] for r in (await emulator.stats())["recent"]
               if r["operation"].startswith("converse")]
    assert formats == [["jpeg"]]
