"""Anthropic's usage object, accumulated over a stream (message_start, then message_delta)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_FIELDS = ("input_tokens", "output_tokens", "cache_read_input_tokens",
           "cache_creation_input_tokens")


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0

    def update(self, usage: Mapping[str, Any] | None) -> None:
        """Later values win, as Anthropic's SDKs accumulate them (absent or null: kept)."""
        if not usage:
            return
        for name in _FIELDS:
            value = usage.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                setattr(self, name, value)

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in _FIELDS}

    @classmethod
    def from_converse(cls, usage: Mapping[str, Any] | None) -> Usage:
        usage = usage or {}
        return cls(int(usage.get("inputTokens") or 0), int(usage.get("outputTokens") or 0),
                   int(usage.get("cacheReadInputTokens") or 0),
                   int(usage.get("cacheWriteInputTokens") or 0))
