"""A small admin-API client for the key tests (aiohttp), and raw data-route calls that expose
the status, headers and error body."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import aiohttp

ADMIN_KEY = "admin-0123456789abcdef"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


async def call(method: str, url: str, key: str, json: Any = None) -> Reply:
    async with aiohttp.ClientSession() as session, session.request(
            method, url, json=json, headers={"Authorization": f"Bearer {key}"}) as response:
        body = await response.json(content_type=None) if response.status != 204 else None
        return Reply(response.status, {k.lower(): v for k, v in response.headers.items()}, body)


async def create_key(root: str, **spec: Any) -> dict:
    reply = await call("POST", f"{root}/admin/v1/keys", ADMIN_KEY, {"name": "test", **spec})
    assert reply.status == 201, reply.body
    return reply.body


async def chat(root: str, key: str, content: str = "hi [[emu chunks=2]]", *,
               model: str, max_tokens: int | None = None, stream: bool = False) -> Reply:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": content}],
                            "stream": stream}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if stream:
        body["stream_options"] = {"include_usage": True}
    async with aiohttp.ClientSession() as session, session.post(
            f"{root}/v1/chat/completions", json=body,
            headers={"Authorization": f"Bearer {key}"}) as response:
        text = await response.text()
        headers = {k.lower(): v for k, v in response.headers.items()}
        if response.content_type == "application/json":
            import json as _json
            return Reply(response.status, headers, _json.loads(text))
        return Reply(response.status, headers, text)


async def usage(root: str, key_id: str) -> dict:
    reply = await call("GET", f"{root}/admin/v1/keys/{key_id}/usage", ADMIN_KEY)
    assert reply.status == 200, reply.body
    return reply.body


async def wait_usage(root: str, key_id: str, requests: int, timeout: float = 5.0) -> dict:
    """Settling happens in the background after the response: poll until it is counted."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        got = await usage(root, key_id)
        if got["totals"]["requests"] >= requests or loop.time() > deadline:
            return got
        await asyncio.sleep(0.02)
