"""A validated Responses request (plus the stored history before it) -> Converse kwargs.

The items become the chat translator's messages, so every Bedrock repair documented in
`protocols/openai_chat/chat_converse_messages.py` applies (developer messages as system text,
consecutive same-role turns merged, tool results first in their turn, ...), and tools,
tool_choice, text.format (native structured output or the synthetic-tool fallback), reasoning
budgets (`conversation/reasoning_budgets.py`), prompt caching and guardrails go through
`protocols/openai_chat/chat_tools.py` and `protocols/openai_chat/chat_converse.py`
(`chat_to_converse`) unchanged.

Consecutive assistant-side items (reasoning, assistant message, function calls) form one
assistant turn. Reasoning items are restored from `encrypted_content` (see sealing.py) and sent
back only when thinking is on; values that cannot be opened (another deployment's key, altered)
are dropped, never forwarded. Thinking (`reasoning.effort` on a model with reasoning) stays off
in a tool loop whose assistant turn has no restorable reasoning, since Anthropic requires that
turn to start with its signed thinking block.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import orjson

from bedrock_gateway.errors import InvalidRequestError
from bedrock_gateway.protocols.openai_chat import (
    ChatRequest,
    ExtraBody,
    FilePart,
    ImagePart,
    Message,
    TextPart,
    ToolCall,
)
from bedrock_gateway.protocols.openai_chat.chat_types import ContentPart
from bedrock_gateway.protocols.openai_responses.responses_items import invalid
from bedrock_gateway.protocols.openai_responses.responses_request import bedrock_tool_name
from bedrock_gateway.protocols.openai_responses.responses_sealing import reasoning_block
from bedrock_gateway.protocols.openai_responses.responses_types import (
    CUSTOM_INPUT_FIELD,
    ResponsesRequest,
)
from bedrock_gateway.conversation.capabilities import ModelCapabilities
from bedrock_gateway.conversation.reasoning_budgets import thinking_for_effort
from bedrock_gateway.protocols.openai_chat.chat_converse import TranslateOptions, chat_to_converse

Opener = Callable[[str], "dict | None"]


@dataclass(frozen=True, slots=True)
class ConversePlan:
    kwargs: dict
    structured_tool: str | None
    dropped_reasoning: int = 0  # reasoning items whose encrypted_content could not be opened
    chat: ChatRequest | None = field(default=None, repr=False)


def _parts(content: list[dict]) -> tuple[ContentPart, ...]:
    parts: list[ContentPart] = []
    for part in content:
        kind = part["type"]
        if kind == "input_image":
            parts.append(ImagePart(part["image_url"]))
        elif kind == "input_file":
            parts.append(FilePart(part["file_data"], part.get("filename")))
        else:
            parts.append(TextPart(part.get("text", "")))
    return tuple(parts)


class _Builder:
    def __init__(self, opener: Opener, offset: int) -> None:
        self.messages: list[Message] = []
        self._opener = opener
        self._offset = offset  # items before `input` (history) get negative positions
        self._text: list[TextPart] = []
        self._calls: list[ToolCall] = []
        self._reasoning: list[dict] = []
        self._assistant_at = 0
        self.waiting: dict[str, str] = {}  # call_id -> param of the call
        self.known: set[str] = set()
        self.dropped = 0

    def _param(self, i: int) -> str:
        return f"input[{i - self._offset}]"

    def flush(self) -> None:
        if self._text or self._calls or self._reasoning:
            self.messages.append(Message("assistant", tuple(self._text), self._assistant_at,
                                         tool_calls=tuple(self._calls),
                                         reasoning=tuple(self._reasoning)))
        self._text, self._calls, self._reasoning = [], [], []

    def add(self, i: int, item: dict) -> None:
        kind = item["type"]
        pos = i - self._offset
        if kind == "message" and item["role"] == "assistant":
            if not (self._text or self._calls or self._reasoning):
                self._assistant_at = pos
            self._text.extend(TextPart(p.get("text", "")) for p in item["content"])
        elif kind == "reasoning":
            sealed = item.get("encrypted_content")
            payload = self._opener(sealed) if sealed else None
            block = reasoning_block(payload) if payload is not None else None
            if block is not None:
                self._reasoning.append(block)
            elif sealed:
                self.dropped += 1
        elif kind in ("function_call", "custom_tool_call"):
            self._calls.append(self._tool_call(i, item))
        elif kind in ("function_call_output", "custom_tool_call_output"):
            self.flush()
            self._tool_output(i, item)
        else:  # a user, system or developer message
            if self.waiting and item["role"] == "user":
                self._unanswered()
            self.flush()
            self.messages.append(Message(item["role"], _parts(item["content"]), pos))

    def _tool_call(self, i: int, item: dict) -> ToolCall:
        name = bedrock_tool_name(item["name"], item.get("namespace"))
        if item["type"] == "custom_tool_call":
            arguments = {CUSTOM_INPUT_FIELD: item["input"]}
        else:
            raw = item["arguments"].strip()
            try:
                arguments = orjson.loads(raw) if raw else {}
            except orjson.JSONDecodeError:
                raise invalid("'arguments' is not valid JSON.",
                              f"{self._param(i)}.arguments") from None
            if not isinstance(arguments, dict):
                raise invalid("'arguments' must encode a JSON object.",
                              f"{self._param(i)}.arguments")
        self.known.add(item["call_id"])
        self.waiting[item["call_id"]] = self._param(i)
        return ToolCall(item["call_id"], name, arguments)

    def _tool_output(self, i: int, item: dict) -> None:
        call_id = item["call_id"]
        if call_id not in self.known:
            raise invalid(f"No function call with call_id {call_id!r} precedes this output.",
                          f"{self._param(i)}.call_id")
        self.waiting.pop(call_id, None)
        output = item["output"]
        pos = i - self._offset
        if isinstance(output, str):
            self.messages.append(Message("tool", (TextPart(output),), pos, tool_call_id=call_id,
                                         content_is_string=True))
            return
        texts = tuple(TextPart(p["text"]) for p in output if "text" in p)
        media = tuple(p for p in _parts(output) if not isinstance(p, TextPart))
        self.messages.append(Message("tool", texts, pos, tool_call_id=call_id))
        if media:  # Bedrock tool results hold text: images and files follow as user content
            self.messages.append(Message("user", media, pos))

    def _unanswered(self) -> None:
        call_id, param = next(iter(self.waiting.items()))
        raise invalid(f"No tool output found for function call {call_id}.", param)

    def finish(self) -> list[Message]:
        self.flush()
        if self.waiting:
            self._unanswered()
        return self.messages


def _in_tool_loop(messages: Sequence[Message]) -> Message | None:
    """The assistant turn with tool calls after the last user message, if any."""
    for message in reversed(messages):
        if message.role == "user":
            return None
        if message.role == "assistant" and message.tool_calls:
            return message
    return None


def _thinking(req: ResponsesRequest, caps: ModelCapabilities, options: TranslateOptions,
              messages: Sequence[Message]) -> dict | None:
    if not caps.reasoning:
        return None
    loop = _in_tool_loop(messages)
    if loop is not None and not loop.reasoning:
        return None
    return thinking_for_effort(req.reasoning_effort, options.reasoning_budgets)


def chat_request(req: ResponsesRequest, history: Sequence[dict], caps: ModelCapabilities,
                 options: TranslateOptions, opener: Opener) -> tuple[ChatRequest, int]:
    """The equivalent chat request (and the count of reasoning items that could not be opened)."""
    builder = _Builder(opener, len(history))
    if req.instructions:
        builder.messages.append(Message("developer", (TextPart(req.instructions),), -1))
    for i, item in enumerate([*history, *req.input_items]):
        builder.add(i, item)
    messages = builder.finish()
    thinking = _thinking(req, caps, options, messages)
    if thinking is None:
        messages = [replace(m, reasoning=()) if m.reasoning else m for m in messages]
    chat = ChatRequest(
        model=req.model, messages=tuple(messages), stream=req.stream,
        max_tokens=req.max_output_tokens, temperature=req.temperature, top_p=req.top_p,
        tools=req.tools, tool_choice=req.tool_choice, response_format=req.text_format,
        parallel_tool_calls=req.parallel_tool_calls, extra=ExtraBody(thinking=thinking))
    return chat, builder.dropped


def responses_param(param: str | None) -> str | None:
    """The Responses field a chat-translator error names (`messages[2].content[1].image_url.url`
    -> `input[2].content[1].image_url`)."""
    if param and param.startswith("messages["):
        param = "input[" + param[len("messages["):]
        if param.endswith(".image_url.url"):
            param = param[:-len(".url")]
    return "text.format" if param == "response_format" else param


def to_converse(req: ResponsesRequest, *, history: Sequence[dict], model_id: str,
                caps: ModelCapabilities, options: TranslateOptions, opener: Opener,
                fetched_images: Mapping[str, tuple[bytes, str]] = MappingProxyType({}),
                ) -> ConversePlan:
    chat, dropped = chat_request(req, history, caps, options, opener)
    try:
        call = chat_to_converse(chat, model_id=model_id, caps=caps, options=options,
                                fetched_images=fetched_images)
    except InvalidRequestError as error:
        error.param = responses_param(error.param)
        raise
    return ConversePlan(call.kwargs, call.structured_tool, dropped, chat)

