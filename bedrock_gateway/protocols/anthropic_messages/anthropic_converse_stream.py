"""ConverseStream events -> Anthropic's stream events, for models served through Converse.

Anthropic's order is message_start, then per block content_block_start / _delta... / _stop,
then message_delta (stop_reason, usage) and message_stop. Converse sends its usage in a
`metadata` event after `messageStop`, so message_delta and message_stop are written when the
metadata arrives (or at the end, if it never does). Converse's text and reasoning blocks have no
start event: the first delta opens them.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from bedrock_gateway.protocols.anthropic_messages.anthropic_converse_response import stop_reason
from bedrock_gateway.protocols.anthropic_messages.anthropic_usage import Usage


class ConverseStreamTranslator:
    __slots__ = (
        "_ended",
        "_index",
        "_next_index",
        "_open",
        "_started",
        "first_content_emitted",
        "message_id",
        "model",
        "stop_reason",
        "usage",
    )

    def __init__(self, *, model: str, message_id: str) -> None:
        self.model = model
        self.message_id = message_id
        self.first_content_emitted = False
        self.usage = Usage()
        self.stop_reason: str | None = None
        self._open: dict[int, str] = {}  # Converse index -> kind of the open Anthropic block
        self._index: dict[int, int] = {}  # Converse index -> Anthropic index
        self._next_index = 0
        self._started = False
        self._ended = False

    def _message_start(self) -> list[dict]:
        if self._started:
            return []
        self._started = True
        return [{"type": "message_start", "message": {
            "id": self.message_id, "type": "message", "role": "assistant", "model": self.model,
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": self.usage.as_dict()}}]

    def _start(self, converse_index: int, kind: str, block: dict) -> list[dict]:
        out = self._close_others(converse_index)
        self._open[converse_index] = kind
        index = self._index[converse_index] = self._next_index
        self._next_index += 1
        out.append({"type": "content_block_start", "index": index, "content_block": block})
        return out

    def _close_others(self, keep: int) -> list[dict]:
        """Anthropic blocks do not interleave: a new block closes any other open one."""
        return [event for i in [i for i in self._open if i != keep] for event in self._stop(i)]

    def _stop(self, converse_index: int) -> list[dict]:
        if self._open.pop(converse_index, None) is None:
            return []
        return [{"type": "content_block_stop", "index": self._index[converse_index]}]

    def _delta(self, converse_index: int, delta: dict) -> dict:
        self.first_content_emitted = True
        return {"type": "content_block_delta", "index": self._index[converse_index],
                "delta": delta}

    def feed(self, event: Mapping[str, Any]) -> list[dict]:
        data = event.get("contentBlockDelta")
        if data is not None:
            # The hot path: more text for the text block already open.
            index = data.get("contentBlockIndex", 0)
            text = (data.get("delta") or {}).get("text")
            if text is not None and self._open.get(index) == "text":
                return [{"type": "content_block_delta", "index": self._index[index],
                         "delta": {"type": "text_delta", "text": text}}]
            return self._on_delta(data)
        if "contentBlockStart" in event:
            data = event["contentBlockStart"]
            use = (data.get("start") or {}).get("toolUse")
            if use is None:
                return self._message_start()
            return self._message_start() + self._start(
                data.get("contentBlockIndex", 0), "tool_use",
                {"type": "tool_use", "id": use["toolUseId"], "name": use["name"], "input": {}})
        if "contentBlockStop" in event:
            return self._stop(event["contentBlockStop"].get("contentBlockIndex", 0))
        if "messageStart" in event:
            return self._message_start()
        if "messageStop" in event:
            self.stop_reason = stop_reason(event["messageStop"].get("stopReason"))
            return self._message_start() + self._close_all()
        if "metadata" in event:
            self.usage = Usage.from_converse(event["metadata"].get("usage"))
            return self._end()
        return []

    def _on_delta(self, data: Mapping[str, Any]) -> list[dict]:
        index = data.get("contentBlockIndex", 0)
        delta = data.get("delta") or {}
        out = self._message_start()
        if "text" in delta:
            if self._open.get(index) != "text":
                out += self._start(index, "text", {"type": "text", "text": ""})
            out.append(self._delta(index, {"type": "text_delta", "text": delta["text"]}))
        elif "toolUse" in delta:
            if index not in self._open:  # a tool delta with no start: not expected, tolerated
                out += self._start(index, "tool_use", {"type": "tool_use", "id": "",
                                                       "name": "", "input": {}})
            out.append(self._delta(index, {"type": "input_json_delta",
                                           "partial_json": delta["toolUse"].get("input", "")}))
        elif "reasoningContent" in delta:
            out += self._on_reasoning(index, delta["reasoningContent"])
        return out

    def _on_reasoning(self, index: int, reasoning: Mapping[str, Any]) -> list[dict]:
        out: list[dict] = []
        if "redactedContent" in reasoning:
            data = reasoning["redactedContent"]
            text = base64.b64encode(data).decode() if isinstance(data, bytes) else str(data)
            self.first_content_emitted = True
            out += self._start(index, "redacted_thinking",
                               {"type": "redacted_thinking", "data": text})
            return out
        if self._open.get(index) != "thinking":
            out += self._start(index, "thinking",
                               {"type": "thinking", "thinking": "", "signature": ""})
        if "text" in reasoning:
            out.append(self._delta(index, {"type": "thinking_delta",
                                           "thinking": reasoning["text"]}))
        if "signature" in reasoning:
            out.append(self._delta(index, {"type": "signature_delta",
                                           "signature": reasoning["signature"]}))
        return out

    def _close_all(self) -> list[dict]:
        return [event for i in list(self._open) for event in self._stop(i)]

    def _end(self) -> list[dict]:
        if self._ended:
            return []
        self._ended = True
        return self._message_start() + self._close_all() + [
            {"type": "message_delta",
             "delta": {"stop_reason": self.stop_reason or "end_turn", "stop_sequence": None},
             "usage": self.usage.as_dict()},
            {"type": "message_stop"}]

    def finish(self) -> list[dict]:
        return self._end()
