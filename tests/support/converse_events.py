"""Converse request and stream-event shapes for tests that call Bedrock's API directly with a
real aiobotocore client (the emulator's own tests)."""

from __future__ import annotations

from typing import Any


def user(text: str) -> list[dict[str, Any]]:
    """Converse `messages` with one user text turn."""
    return [{"role": "user", "content": [{"text": text}]}]


async def collect(response: dict[str, Any]) -> list[dict[str, Any]]:
    """Every event of a ConverseStream response."""
    return [event async for event in response["stream"]]


def stream_text(events: list[dict[str, Any]], index: int | None = None) -> str:
    """The text deltas joined (of one content block when `index` is given)."""
    return "".join(e["contentBlockDelta"]["delta"].get("text", "") for e in events
                   if "contentBlockDelta" in e
                   and (index is None or e["contentBlockDelta"]["contentBlockIndex"] == index))


def only(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The bodies of the events of one kind (e.g. "messageStop")."""
    return [e[kind] for e in events if kind in e]
