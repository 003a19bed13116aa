"""Request counters and open streams of one emulator app, for `GET /_emulator/stats`."""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

RECENT = 1000


@dataclass
class Stats:
    requests_total: int = 0
    open_streams: int = 0
    max_open_streams: int = 0
    by: Counter[str] = field(default_factory=Counter)
    open_by_model: Counter[str] = field(default_factory=Counter)
    recent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=RECENT))

    def record(self, region: str, operation: str, model: str | None) -> dict[str, Any]:
        """Count a request; the returned entry of `recent` may get a `request` summary later."""
        self.requests_total += 1
        self.by[f"{region} {operation}"] += 1
        entry = {"region": region, "operation": operation, "model": model, "ts": time.time()}
        self.recent.append(entry)
        return entry

    def stream_opened(self, model: str = "") -> None:
        self.open_streams += 1
        self.max_open_streams = max(self.max_open_streams, self.open_streams)
        self.open_by_model[model] += 1

    def stream_closed(self, model: str = "") -> None:
        self.open_streams -= 1
        self.open_by_model[model] -= 1
        if not self.open_by_model[model]:
            del self.open_by_model[model]

    def reset(self) -> None:
        self.requests_total = 0
        self.max_open_streams = self.open_streams
        self.by.clear()
        self.recent.clear()

    def snapshot(self) -> dict[str, Any]:
        return {"open_streams": self.open_streams, "max_open_streams": self.max_open_streams,
                "open_streams_by_model": dict(self.open_by_model),
                "requests_total": self.requests_total, "by": dict(self.by),
                "recent": list(self.recent)}


_PASSED_AS_GIVEN = ("inferenceConfig", "additionalModelRequestFields", "guardrailConfig",
                    "performanceConfig", "requestMetadata", "outputConfig")


def _kind(block: Any) -> str:
    return next(iter(block), "") if isinstance(block, dict) else type(block).__name__


def converse_summary(body: Any) -> dict[str, Any] | None:
    """What a test may check of a Converse request, without its bytes or message texts: its
    top-level fields, the system blocks (texts cut to 500 characters), each message's role and
    block kinds, the tool names (or `cachePoint`) and toolChoice, the inference and
    pass-through fields as sent, `image_formats` (the format of each image block, when there are
    any) and `reasoning_signatures` (the signatures of reasoning blocks sent back, when there are
    any)."""
    if not isinstance(body, dict):
        return None
    try:
        tool_config = body.get("toolConfig") or {}
        summary: dict[str, Any] = {
            "fields": sorted(body),
            "system": [b["text"][:500] if "text" in b else _kind(b)
                       for b in body.get("system") or ()],
            "messages": [{"role": m.get("role"), "blocks": [_kind(b) for b in
                                                            m.get("content") or ()]}
                         for m in body.get("messages") or ()],
            "tools": [t["toolSpec"].get("name") if "toolSpec" in t else _kind(t)
                      for t in tool_config.get("tools") or ()],
            "toolChoice": tool_config.get("toolChoice"),
        }
        summary.update({k: body[k] for k in _PASSED_AS_GIVEN if k in body})
        formats = [b["image"].get("format") for m in body.get("messages") or ()
                   for b in m.get("content") or () if "image" in b]
        if formats:  # what the sender decided each image is
            summary["image_formats"] = formats
        signatures = [b["reasoningContent"]["reasoningText"].get("signature")
                      for m in body.get("messages") or () for b in m.get("content") or ()
                      if "reasoningText" in (b.get("reasoningContent") or {})]
        if signatures:  # not secret, and what a reasoning round trip must bring back
            summary["reasoning_signatures"] = signatures
        return summary
    except (AttributeError, KeyError, TypeError):  # malformed: validation will answer it
        return {"fields": sorted(map(str, body))}
