"""Small HTTP helpers for servers the tests start: a free loopback port, waiting for a process's
readiness endpoint, and a loopback web server serving images and redirects."""

from __future__ import annotations

import socket
import struct
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from aiohttp import web

from tests.support.polling import eventually


def free_port() -> int:
    """A loopback port nothing listens on now (for a child process that must be told one)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_ready(url: str, *, within: float = 20.0) -> None:
    """Poll `url` until it answers 200 (a gateway process's /ready)."""
    async with aiohttp.ClientSession() as session:
        async def ready() -> bool:
            try:
                async with session.get(url) as response:
                    return response.status == 200
            except aiohttp.ClientError:
                return False

        await eventually(ready, within=within, interval=0.1, what=f"{url} ready")


def png_bytes() -> bytes:
    """A real 1x1 PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels)
            + chunk(b"IEND", b""))


@asynccontextmanager
async def serve_images() -> AsyncIterator[str]:
    """A real HTTP server on 127.0.0.1 (yields its root URL): /cat.png (a PNG), /page.html
    (HTML) and /to?url=... (a 302 to any address)."""
    async def png(request: web.Request) -> web.Response:
        return web.Response(body=png_bytes(), content_type="image/png")

    async def html(request: web.Request) -> web.Response:
        return web.Response(text="<html></html>", content_type="text/html")

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["url"])

    app = web.Application()
    app.router.add_get("/cat.png", png)
    app.router.add_get("/page.html", html)
    app.router.add_get("/to", redirect)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
