"""A small admin-API client for the key tests (aiohttp), and raw data-route calls that expose
the status, headers and error body."""

from __future__ import annotations

import json as json_module
from dataclasses import dataclass
from typing import Any

import aiohttp

from tests.support.constants import ADMIN_KEY
from tests.support.polling import eventually


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
            return Reply(response.status, headers, json_module.loads(text))
        return Reply(response.status, headers, text)


async def usage(root: str, key_id: str) -> dict:
    reply = await call("GET", f"{root}/admin/v1/keys/{key_id}/usage", ADMIN_KEY)
    assert reply.status == 200, reply.body
    return reply.body


async def wait_usage(root: str, key_id: str, requests: int, *, within: float = 10.0) -> dict:
    """Settling happens in the background after the response: poll until it is counted."""
    async def counted() -> dict | None:
        got = await usage(root, key_id)
        return got if got["totals"]["requests"] >= requests else None

    result: dict = await eventually(counted, within=within, what=f"{requests} requests settled")
    return result
