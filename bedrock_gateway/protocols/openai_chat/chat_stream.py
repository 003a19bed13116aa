"""Bedrock ConverseStream events -> OpenAI `chat.completion.chunk` dicts, one request at a time.

`ChunkTranslator.feed` runs once per upstream event, so it does the least it can: one dict
lookup per event kind, one chunk dict per emitted delta, no copying. Events and fields it does
not know (padding `p`, citations, future members) are ignored.

Structured output through the synthetic tool: the tool's input fragments stream as `content`.
Text the model writes while such a tool is offered is held back until we know whether the
answer tool is called (then the text is dropped, as in the non-streaming response) or not (then
it is sent, late but whole). With a forced tool choice the model writes no text, so normally
nothing is held.
"""

from __future__ import annotations

from typing import Any

from bedrock_gateway.protocols.openai_chat.chat_response import finish_reason_for
from bedrock_gateway.protocols.openai_chat.chat_shapes import chat_usage, delta_chunk, usage_chunk

_STRUCTURED = -1  # marks the structured-output tool's content block


class ChunkTranslator:
    __slots__ = (
        "_blocks",
        "_created",
        "_held",
        "_id",
        "_include_usage",
        "_legacy",
        "_model",
        "_no_input",
        "_role_sent",
        "_structured_tool",
        "_structured_used",
        "_tool_count",
        "finish_reason",
        "first_content_emitted",
        "usage",
    )

    def __init__(self, *, model: str, completion_id: str, created: int, include_usage: bool,
                 structured_tool: str | None = None, legacy_functions: bool = False) -> None:
        self._id = completion_id
        self._created = created
        self._model = model
        self._include_usage = include_usage
        self._structured_tool = structured_tool
        self._legacy = legacy_functions  # `functions` request: stream `delta.function_call`
        self._blocks: dict[int, int] = {}  # contentBlockIndex -> tool call index (or _STRUCTURED)
        self._tool_count = 0
        self._role_sent = False
        self._held: list[str] | None = [] if structured_tool else None
        self._structured_used = False
        self._no_input: set[int] = set()  # tool blocks that have had no input fragment yet
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None  # OpenAI usage object, once metadata arrived
        self.first_content_emitted = False

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        if not self._role_sent:  # only if content came before messageStart
            self._role_sent = True
            delta["role"] = "assistant"
        return delta_chunk(self._id, self._created, self._model, delta, finish_reason)

    def feed(self, event: dict) -> list[dict]:
        body = event.get("contentBlockDelta")
        if body is not None:
            return self._delta(body)
        body = event.get("contentBlockStart")
        if body is not None:
            return self._block_start(body)
        body = event.get("contentBlockStop")
        if body is not None:
            return self._block_stop(body)
        body = event.get("messageStart")
        if body is not None:
            if self._role_sent:
                return []
            self._role_sent = True
            return [self._chunk({"role": "assistant", "content": ""})]
        body = event.get("messageStop")
        if body is not None:
            return self._stop(body.get("stopReason"))
        body = event.get("metadata")
        if body is not None:
            usage = body.get("usage")
            if usage:
                self.usage = chat_usage(usage)
        return []

    def _delta(self, body: dict) -> list[dict]:
        delta = body.get("delta")
        if not delta:
            return []
        text = delta.get("text")
        if text is not None:
            if not text:
                return []
            if self._held is not None:
                self._held.append(text)
                return []
            self.first_content_emitted = True
            return [self._chunk({"content": text})]
        tool = delta.get("toolUse")
        if tool is not None:
            fragment = tool.get("input")
            block = body.get("contentBlockIndex", 0)
            index = self._blocks.get(block)
            if not fragment or index is None:
                return []
            self._no_input.discard(block)
            return [self._arguments(index, fragment)]
        reasoning = delta.get("reasoningContent")
        if reasoning is not None:
            text = reasoning.get("text")  # signature and redactedContent are never shown
            if text:
                self.first_content_emitted = True
                return [self._chunk({"reasoning_content": text})]
        return []

    def _arguments(self, index: int, fragment: str) -> dict:
        self.first_content_emitted = True
        if index == _STRUCTURED:
            return self._chunk({"content": fragment})
        if self._legacy:
            return self._chunk({"function_call": {"arguments": fragment}})
        return self._chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})

    def _block_stop(self, body: dict) -> list[dict]:
        """A tool call that got no input at all still ends with parseable arguments, "{}", as
        in the non-streaming response."""
        block = body.get("contentBlockIndex", 0)
        if block not in self._no_input:
            return []
        self._no_input.discard(block)
        return [self._arguments(self._blocks[block], "{}")]

    def _block_start(self, body: dict) -> list[dict]:
        tool = (body.get("start") or {}).get("toolUse")
        if tool is None:
            return []
        block = body.get("contentBlockIndex", 0)
        name = tool.get("name")
        if self._structured_tool is not None and name == self._structured_tool:
            self._blocks[block] = _STRUCTURED
            self._no_input.add(block)
            self._structured_used = True
            self._held = None  # text around the answer tool is dropped
            return []
        index = self._tool_count
        self._tool_count += 1
        if self._legacy and index > 0:
            return []  # the legacy shape holds one call: later ones are not shown
        self._blocks[block] = index
        self._no_input.add(block)
        chunks = self._release_held()
        self.first_content_emitted = True
        if self._legacy:
            chunks.append(self._chunk({"function_call": {"name": name, "arguments": ""}}))
        else:
            chunks.append(self._chunk({"tool_calls": [{
                "index": index, "id": tool.get("toolUseId"), "type": "function",
                "function": {"name": name, "arguments": ""}}]}))
        return chunks

    def _release_held(self) -> list[dict]:
        held, self._held = self._held, None
        if not held or self._structured_used:
            return []
        self.first_content_emitted = True
        return [self._chunk({"content": "".join(held)})]

    def _stop(self, stop_reason: object) -> list[dict]:
        chunks = self._release_held()
        self.finish_reason = finish_reason_for(stop_reason, tool_calls=self._tool_count > 0,
                                               legacy_functions=self._legacy)
        chunks.append(self._chunk({}, self.finish_reason))
        return chunks

    def finish(self) -> list[dict]:
        """After the upstream stream ended: the usage chunk (with include_usage). A stream that
        ended without messageStop still gets its finish_reason chunk first."""
        chunks = self._stop(None) if self.finish_reason is None else []
        if self._include_usage:
            chunks.append(usage_chunk(self._id, self._created, self._model,
                                      self.usage or chat_usage({})))
        return chunks
