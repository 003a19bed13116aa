"""Bedrock ConverseStream events -> Responses API streaming events, one request at a time.

`ResponseEventTranslator.feed` runs once per upstream event and returns the events to send, each
with its `sequence_number`. Bedrock content blocks become output items: text -> a `message` with
one `output_text` part; reasoning -> a `reasoning` item (its text as a summary when the request
asked for one, else as `reasoning_text` content; the signature or redacted bytes sealed into
`encrypted_content`); toolUse -> a `function_call`, or a `custom_tool_call` for a custom tool,
or, for the synthetic structured-output tool, a `message` whose text is the tool's input.
The finished response (`response()`) is what `response.completed` carries and the store keeps;
the non-streaming path replays a Converse response through the same translator.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import orjson

from bedrock_gateway.errors import GatewayError
from bedrock_gateway.protocols.openai_responses.responses_items import new_id
from bedrock_gateway.protocols.openai_responses.responses_object import (
    INCOMPLETE_REASONS,
    response_object,
    responses_usage,
)
from bedrock_gateway.protocols.openai_responses.responses_sealing import reasoning_payload
from bedrock_gateway.protocols.openai_responses.responses_types import CUSTOM_INPUT_FIELD, ToolRef


class _Open:
    """One output item being streamed (one Bedrock content block)."""

    __slots__ = ("index", "item", "kind", "parts", "redacted", "signature")

    def __init__(self, kind: str, index: int, item: dict) -> None:
        self.kind = kind  # "text" | "reasoning" | "call" | "structured"
        self.index = index  # output_index
        self.item = item
        self.parts: list[str] = []
        self.signature: str | None = None
        self.redacted: bytes | None = None


class ResponseEventTranslator:
    def __init__(self, *, response_id: str, created_at: int, model: str,
                 echo: Mapping[str, object], tool_refs: Mapping[str, ToolRef],
                 structured_tool: str | None, summary: bool, include_sealed: bool,
                 seal: Callable[[dict], str]) -> None:
        self.response_id = response_id
        self._created_at = created_at
        self._model = model
        self._echo = echo
        self._refs = tool_refs
        self._structured = structured_tool
        self._summary = summary
        self._include_sealed = include_sealed
        self._seal = seal
        self._seq = 0
        self._started = False
        self._open: dict[int, _Open] = {}
        self._done: dict[int, dict] = {}  # output_index -> finished item (with encrypted_content)
        self._count = 0  # output items started
        self._stop_reason: str | None = None
        self.usage: dict | None = None
        self.status = "in_progress"
        self.first_content_emitted = False
        self.finish_reason: str | None = None  # for telemetry: completed / incomplete / failed

    @property
    def output(self) -> list[dict]:
        """Finished output items in output order, with encrypted_content (what the store keeps)."""
        return [self._done[i] for i in sorted(self._done)]

    # -- envelopes -------------------------------------------------------------------------

    def _event(self, kind: str, **fields: object) -> dict:
        event = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return event

    def _client_item(self, item: dict) -> dict:
        if self._include_sealed or "encrypted_content" not in item:
            return item
        return {k: v for k, v in item.items() if k != "encrypted_content"}

    def response(self, *, error: dict | None = None, client: bool = True) -> dict:
        output = [self._client_item(i) for i in self.output] if client else self.output
        reason = INCOMPLETE_REASONS.get(self._stop_reason or "")
        return response_object(
            response_id=self.response_id, created_at=self._created_at, model=self._model,
            status=self.status, output=output, usage=self.usage, echo=self._echo, error=error,
            incomplete_reason=reason if self.status == "incomplete" else None)

    def start(self) -> list[dict]:
        if self._started:
            return []
        self._started = True
        snapshot = self.response()
        return [self._event("response.created", response=snapshot),
                self._event("response.in_progress", response=snapshot)]

    # -- upstream events ---------------------------------------------------------------------

    def feed(self, event: dict) -> list[dict]:
        body = event.get("contentBlockDelta")
        if body is not None and self._started:
            # The hot path (most events): more text for an open message.
            text = (body.get("delta") or {}).get("text")
            state = self._open.get(body.get("contentBlockIndex", 0)) if text else None
            if text and state is not None and state.kind == "text":
                state.parts.append(text)
                seq = self._seq
                self._seq = seq + 1
                return [{"type": "response.output_text.delta", "sequence_number": seq,
                         "item_id": state.item["id"], "output_index": state.index,
                         "content_index": 0, "delta": text, "logprobs": []}]
        out = self.start() if not self._started else []
        if body is not None:
            out.extend(self._delta(body))
            return out
        body = event.get("contentBlockStart")
        if body is not None:
            tool = (body.get("start") or {}).get("toolUse")
            if tool is not None:
                out.extend(self._open_call(body.get("contentBlockIndex", 0), tool))
            return out
        body = event.get("contentBlockStop")
        if body is not None:
            block = self._open.pop(body.get("contentBlockIndex", 0), None)
            if block is not None:
                out.extend(self._close(block))
            return out
        body = event.get("messageStop")
        if body is not None:
            self._stop_reason = body.get("stopReason")
            return out
        body = event.get("metadata")
        if body is not None and body.get("usage"):
            self.usage = responses_usage(body["usage"])
        return out

    def _begin(self, block: int, kind: str, item: dict) -> tuple[_Open, list[dict]]:
        state = _Open(kind, self._count, item)
        self._count += 1
        self._open[block] = state
        events = [self._event("response.output_item.added", output_index=state.index,
                              item=self._client_item(item))]
        if kind in ("text", "structured"):
            events.append(self._event(
                "response.content_part.added", item_id=item["id"], output_index=state.index,
                content_index=0, part={"type": "output_text", "text": "", "annotations": []}))
        return state, events

    def _text_state(self, block: int, kind: str) -> tuple[_Open, list[dict]]:
        state = self._open.get(block)
        if state is not None:
            return state, []
        if kind == "reasoning":
            item = {"type": "reasoning", "id": new_id("rs"), "summary": []}
            return self._begin(block, "reasoning", item)
        item = {"type": "message", "id": new_id("msg"), "status": "in_progress",
                "role": "assistant", "content": []}
        return self._begin(block, "text", item)

    def _delta(self, body: dict) -> list[dict]:
        delta = body.get("delta") or {}
        block = body.get("contentBlockIndex", 0)
        text = delta.get("text")
        if text is not None:
            if not text:
                return []
            state, out = self._text_state(block, "text")
            return out + self._text_delta(state, text)
        tool = delta.get("toolUse")
        if tool is not None:
            tool_state = self._open.get(block)
            fragment = tool.get("input")
            if tool_state is None or not fragment:
                return []
            if tool_state.kind == "structured":
                return self._text_delta(tool_state, fragment)
            tool_state.parts.append(fragment)
            if tool_state.item["type"] != "function_call":
                return []  # custom tool input is known only once its JSON is whole
            self.first_content_emitted = True
            return [self._event("response.function_call_arguments.delta",
                                item_id=tool_state.item["id"], output_index=tool_state.index,
                                delta=fragment)]
        reasoning = delta.get("reasoningContent")
        if reasoning is not None:
            return self._reasoning_delta(block, reasoning)
        return []

    def _text_delta(self, state: _Open, text: str) -> list[dict]:
        state.parts.append(text)
        self.first_content_emitted = True
        return [self._event("response.output_text.delta", item_id=state.item["id"],
                            output_index=state.index, content_index=0, delta=text,
                            logprobs=[])]

    def _reasoning_delta(self, block: int, reasoning: dict) -> list[dict]:
        state, out = self._text_state(block, "reasoning")
        if reasoning.get("signature"):
            state.signature = reasoning["signature"]
        redacted = reasoning.get("redactedContent")
        if redacted:
            state.redacted = (state.redacted or b"") + (
                redacted if isinstance(redacted, bytes) else str(redacted).encode())
        text = reasoning.get("text")
        if not text:
            return out
        item_id = state.item["id"]
        if not state.parts:
            if self._summary:
                out.append(self._event("response.reasoning_summary_part.added", item_id=item_id,
                                       output_index=state.index, summary_index=0,
                                       part={"type": "summary_text", "text": ""}))
            else:
                out.append(self._event("response.content_part.added", item_id=item_id,
                                       output_index=state.index, content_index=0,
                                       part={"type": "reasoning_text", "text": ""}))
        state.parts.append(text)
        self.first_content_emitted = True
        if self._summary:
            out.append(self._event("response.reasoning_summary_text.delta", item_id=item_id,
                                   output_index=state.index, summary_index=0, delta=text))
        else:
            out.append(self._event("response.reasoning_text.delta", item_id=item_id,
                                   output_index=state.index, content_index=0, delta=text))
        return out

    def _open_call(self, block: int, tool: dict) -> list[dict]:
        name = tool.get("name") or ""
        if self._structured is not None and name == self._structured:
            item = {"type": "message", "id": new_id("msg"), "status": "in_progress",
                    "role": "assistant", "content": []}
            _, out = self._begin(block, "structured", item)
            return out
        ref = self._refs.get(name) or ToolRef("function", name)
        call_id = tool.get("toolUseId") or new_id("call")
        if ref.kind == "custom":
            item = {"type": "custom_tool_call", "id": new_id("ctc"), "status": "in_progress",
                    "call_id": call_id, "name": ref.name, "input": ""}
        else:
            item = {"type": "function_call", "id": new_id("fc"), "status": "in_progress",
                    "call_id": call_id, "name": ref.name, "arguments": ""}
        if ref.namespace:
            item["namespace"] = ref.namespace
        _, out = self._begin(block, "call", item)
        self.first_content_emitted = True
        return out

    # -- closing items -------------------------------------------------------------------------

    def _close(self, state: _Open) -> list[dict]:
        item, index, item_id = state.item, state.index, state.item["id"]
        out: list[dict] = []
        if state.kind in ("text", "structured"):
            text = "".join(state.parts)
            if state.kind == "structured" and not text:
                text = "{}"
            part = {"type": "output_text", "text": text, "annotations": []}
            out.append(self._event("response.output_text.done", item_id=item_id,
                                   output_index=index, content_index=0, text=text, logprobs=[]))
            out.append(self._event("response.content_part.done", item_id=item_id,
                                   output_index=index, content_index=0, part=part))
            item = {**item, "status": "completed", "content": [part]}
        elif state.kind == "reasoning":
            text = "".join(state.parts)
            item = dict(item)
            if text and self._summary:
                part = {"type": "summary_text", "text": text}
                out.append(self._event("response.reasoning_summary_text.done", item_id=item_id,
                                       output_index=index, summary_index=0, text=text))
                out.append(self._event("response.reasoning_summary_part.done", item_id=item_id,
                                       output_index=index, summary_index=0, part=part))
                item["summary"] = [part]
            elif text:
                part = {"type": "reasoning_text", "text": text}
                out.append(self._event("response.reasoning_text.done", item_id=item_id,
                                       output_index=index, content_index=0, text=text))
                out.append(self._event("response.content_part.done", item_id=item_id,
                                       output_index=index, content_index=0, part=part))
                item["content"] = [part]
            if state.signature or state.redacted:
                item["encrypted_content"] = self._seal(
                    reasoning_payload(text, state.signature, state.redacted))
        else:
            raw = "".join(state.parts) or "{}"
            item = {**item, "status": "completed"}
            if item["type"] == "function_call":
                item["arguments"] = raw
                out.append(self._event("response.function_call_arguments.done", item_id=item_id,
                                       output_index=index, name=item["name"], arguments=raw))
            else:
                item["input"] = _custom_input(raw)
                out.append(self._event("response.custom_tool_call_input.delta", item_id=item_id,
                                       output_index=index, delta=item["input"]))
                out.append(self._event("response.custom_tool_call_input.done", item_id=item_id,
                                       output_index=index, input=item["input"]))
        self._done[index] = item
        out.append(self._event("response.output_item.done", output_index=index,
                               item=self._client_item(item)))
        return out

    def _close_all(self) -> list[dict]:
        out: list[dict] = []
        for block in sorted(self._open):
            out.extend(self._close(self._open[block]))
        self._open.clear()
        return out

    def finish(self) -> list[dict]:
        """After the upstream stream ended: close what is open, then the final event."""
        out = self.start() + self._close_all()
        incomplete = self._stop_reason in INCOMPLETE_REASONS
        self.status = "incomplete" if incomplete else "completed"
        self.finish_reason = self.status
        if self.usage is None:
            self.usage = responses_usage({})
        kind = "response.incomplete" if incomplete else "response.completed"
        out.append(self._event(kind, response=self.response()))
        return out

    def error_events(self, error: GatewayError) -> list[dict]:
        """A failure after the stream began: `response.failed`, then an `error` event."""
        self.status = "failed"
        self.finish_reason = "failed"
        detail = {"code": error.code or "server_error", "message": error.message}
        out = self.start()
        out.append(self._event("response.failed", response=self.response(error=detail)))
        out.append(self._event("error", code=error.code, message=error.message,
                               param=error.param))
        return out


def _custom_input(raw: str) -> str:
    """A custom tool's text from the Bedrock tool input `{"input": "..."}` (raw text otherwise)."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw
    if isinstance(value, dict) and isinstance(value.get(CUSTOM_INPUT_FIELD), str):
        return value[CUSTOM_INPUT_FIELD]
    return raw if not isinstance(value, str) else value


def converse_response_events(resp: dict) -> list[dict]:
    """A non-streaming Converse response as the stream events it would have been, so that one
    translator builds both kinds of response."""
    events: list[dict] = [{"messageStart": {"role": "assistant"}}]
    blocks = ((resp.get("output") or {}).get("message") or {}).get("content") or ()
    for i, block in enumerate(blocks):
        if not isinstance(block, dict):
            continue
        if "text" in block:
            events.append({"contentBlockDelta": {"contentBlockIndex": i,
                                                 "delta": {"text": block["text"]}}})
        elif "toolUse" in block:
            use = block["toolUse"]
            events.append({"contentBlockStart": {"contentBlockIndex": i, "start": {"toolUse": {
                "toolUseId": use.get("toolUseId"), "name": use.get("name")}}}})
            raw = orjson.dumps(use.get("input") if use.get("input") is not None else {}).decode()
            events.append({"contentBlockDelta": {"contentBlockIndex": i,
                                                 "delta": {"toolUse": {"input": raw}}}})
        elif "reasoningContent" in block:
            content = block["reasoningContent"]
            text = content.get("reasoningText") or {}
            for key, value in (("text", text.get("text")), ("signature", text.get("signature")),
                               ("redactedContent", content.get("redactedContent"))):
                if value:
                    events.append({"contentBlockDelta": {"contentBlockIndex": i, "delta": {
                        "reasoningContent": {key: value}}}})
        else:
            continue
        events.append({"contentBlockStop": {"contentBlockIndex": i}})
    events.append({"messageStop": {"stopReason": resp.get("stopReason")}})
    events.append({"metadata": {"usage": resp.get("usage") or {}}})
    return events
