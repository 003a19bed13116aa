"""Helpers shared by the emulator tests (imported as `emu_support`)."""

from __future__ import annotations

from typing import Any

import aiohttp

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


class Emu:
    """A running emulator: its base URL and its control API."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    async def control(self, method: str, path: str, json: Any = None) -> Any:
        async with aiohttp.ClientSession() as session, session.request(
                method, f"{self.base_url}/_emulator/{path}", json=json) as response:
            return response.status, await response.json()

    async def stats(self) -> dict[str, Any]:
        return (await self.control("GET", "stats"))[1]

    async def add_fault(self, **rule: Any) -> str:
        status, body = await self.control("POST", "faults", rule)
        assert status == 200, body
        return body["id"]


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"text": text}]}]


async def collect(response: dict[str, Any]) -> list[dict[str, Any]]:
    return [event async for event in response["stream"]]


def stream_text(events: list[dict[str, Any]], index: int | None = None) -> str:
    return "".join(e["contentBlockDelta"]["delta"].get("text", "") for e in events
                   if "contentBlockDelta" in e
                   and (index is None or e["contentBlockDelta"]["contentBlockIndex"] == index))


def only(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e[kind] for e in events if kind in e]
