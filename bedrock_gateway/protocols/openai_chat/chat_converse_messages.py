"""OpenAI messages -> Bedrock `system` blocks and alternating user/assistant `messages`.

Bedrock is stricter than OpenAI about the conversation's shape, so this module repairs what it
can and documents each repair:
- system and developer messages, wherever they appear, become `system` text blocks (in order);
  for models without a system prompt they are put at the start of the first user turn;
- consecutive turns of one role are merged (tool results and a following user message share
  one user turn, tool results first, as Anthropic requires);
- blank text blocks are dropped (Bedrock rejects them) and turns left empty disappear, except
  a blank last user message, which becomes a placeholder (else the conversation would end on
  the assistant and Bedrock would continue that answer instead of replying);
- a conversation that does not start with a user turn (a leading assistant greeting, or only
  system messages) gets a minimal placeholder user turn first: the assistant's words stay its own,
  which merging them into the system prompt would not preserve (nor its tool calls);
- a trailing assistant turn (prefill) loses trailing whitespace, which Anthropic rejects;
- tool call ids are mapped onto Bedrock's id alphabet, consistently for toolUse and toolResult;
- when the request sends no tools (tool_choice "none", or no tools given) Bedrock refuses
  toolUse/toolResult blocks without a toolConfig, so tool history is rendered as plain text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from bedrock_gateway.errors import InvalidRequestError
from bedrock_gateway.protocols.openai_chat import (
    ChatRequest,
    FilePart,
    ImagePart,
    Message,
    TextPart,
)
from bedrock_gateway.conversation.capabilities import ModelCapabilities
from bedrock_gateway.conversation.images import document_block, image_block

PLACEHOLDER_USER_TEXT = "(conversation start)"
EMPTY_USER_TEXT = "(empty message)"
_TOOL_ID = re.compile(r"[a-zA-Z0-9_.:-]{1,64}")
_TOOL_ID_DISALLOWED = re.compile(r"[^a-zA-Z0-9_.:-]")


class _ToolIds:
    """OpenAI tool call ids -> ids Bedrock accepts ([a-zA-Z0-9_.:-]{1,64}), stable per request."""

    def __init__(self) -> None:
        self._map: dict[str, str] = {}
        self._used: set[str] = set()

    def __call__(self, call_id: str) -> str:
        mapped = self._map.get(call_id)
        if mapped is None:
            mapped = call_id if _TOOL_ID.fullmatch(call_id) else \
                _TOOL_ID_DISALLOWED.sub("_", call_id)[:56]
            if mapped in self._used and mapped != call_id:
                mapped = f"{mapped}_{len(self._used)}"
            self._map[call_id] = mapped
            self._used.add(mapped)
        return mapped


def _text_blocks(message: Message) -> list[dict]:
    return [{"text": p.text} for p in message.content if isinstance(p, TextPart) and p.text.strip()]


def _user_blocks(message: Message, caps: ModelCapabilities, fetched: Mapping,
                 names: set[str]) -> list[dict]:
    blocks: list[dict] = []
    for j, part in enumerate(message.content):
        param = f"messages[{message.index}].content[{j}]"
        if isinstance(part, TextPart):
            if part.text.strip():
                blocks.append({"text": part.text})
        elif isinstance(part, ImagePart):
            if not caps.images:
                raise InvalidRequestError("This model does not accept images.", param=param,
                                          code="unsupported_content")
            blocks.append(image_block(part.url, fetched, f"{param}.image_url.url"))
        elif isinstance(part, FilePart):
            if not caps.documents:
                raise InvalidRequestError("This model does not accept documents.", param=param,
                                          code="unsupported_content")
            blocks.append(document_block(part.file_data, part.filename, f"{param}.file.file_data",
                                         names))
    return blocks


def _tool_result_content(message: Message) -> list[dict]:
    texts = [p.text for p in message.content if isinstance(p, TextPart)]
    if message.content_is_string and texts:
        text = texts[0].strip()
        if text[:1] in ("{", "["):  # only then is it worth trying: a JSON result stays structured
            try:
                return [{"json": orjson.loads(text)}]
            except orjson.JSONDecodeError:
                pass
    blocks = [{"text": t} for t in texts if t.strip()]
    # Bedrock wants content in every toolResult; an empty result still says "no output".
    return blocks or [{"text": "(no output)"}]


def _as_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def _turns(req: ChatRequest, caps: ModelCapabilities, fetched: Mapping,
           tools_as_text: bool) -> tuple[list[str], list[tuple[str, list[dict]]]]:
    system: list[str] = []
    turns: list[tuple[str, list[dict]]] = []
    ids, names = _ToolIds(), set[str]()
    for message in req.messages:
        role = message.role
        if role in ("system", "developer"):
            system.extend(b["text"] for b in _text_blocks(message))
            continue
        if role == "user":
            blocks, bedrock_role = _user_blocks(message, caps, fetched, names), "user"
        elif role == "assistant":
            blocks, bedrock_role = _text_blocks(message), "assistant"
            if message.reasoning:
                blocks[:0] = [{"reasoningContent": r} for r in message.reasoning]
            for call in message.tool_calls:
                if tools_as_text:
                    text = f"[tool call {call.id}] {call.name}({_as_text(call.input)})"
                    blocks.append({"text": text})
                else:
                    blocks.append({"toolUse": {"toolUseId": ids(call.id), "name": call.name,
                                               "input": call.input}})
        else:  # tool
            content, bedrock_role = _tool_result_content(message), "user"
            if tools_as_text:
                parts = [b["text"] if "text" in b else _as_text(b["json"]) for b in content]
                blocks = [{"text": f"[tool result {message.tool_call_id}] " + "\n".join(parts)}]
            else:
                blocks = [{"toolResult": {"toolUseId": ids(message.tool_call_id or ""),
                                          "content": content}}]
        if not blocks:
            continue
        if turns and turns[-1][0] == bedrock_role:
            turns[-1][1].extend(blocks)
        else:
            turns.append((bedrock_role, blocks))
    return system, turns


def build_conversation(req: ChatRequest, caps: ModelCapabilities, *,
                       fetched_images: Mapping[str, tuple[bytes, str]],
                       tools_as_text: bool,
                       extra_system: list[str]) -> tuple[list[dict], list[dict]]:
    """(system blocks, messages) for Converse. `extra_system` holds the gateway's own
    instructions (e.g. for json_object), appended after the client's system text."""
    system, turns = _turns(req, caps, fetched_images, tools_as_text)
    system.extend(extra_system)
    if not turns or turns[0][0] != "user":
        turns.insert(0, ("user", [{"text": PLACEHOLDER_USER_TEXT}]))
    last_role = next((m.role for m in reversed(req.messages)
                      if m.role not in ("system", "developer")), "user")
    if turns[-1][0] == "assistant" and last_role != "assistant":
        # The client's last (user) message was blank: keep the turn, or Bedrock would take the
        # assistant's previous answer as a prefill to continue.
        turns.append(("user", [{"text": EMPTY_USER_TEXT}]))
    messages: list[dict] = []
    for role, blocks in turns:
        if role == "user" and len(blocks) > 1:
            # Anthropic wants tool results first in their turn; the order is kept otherwise.
            blocks.sort(key=lambda b: "toolResult" not in b)
        messages.append({"role": role, "content": blocks})
    last = messages[-1]
    if last["role"] == "assistant":
        _strip_trailing_whitespace(messages)
    if system and not caps.system_prompt:
        first = messages[0]["content"]
        if first == [{"text": PLACEHOLDER_USER_TEXT}]:
            first.clear()
        first[:0] = [{"text": text} for text in system]
        return [], messages
    return [{"text": text} for text in system], messages


def _strip_trailing_whitespace(messages: list[dict]) -> None:
    blocks = messages[-1]["content"]
    if "text" in blocks[-1]:  # never blank here: blank blocks were dropped
        blocks[-1] = {"text": blocks[-1]["text"].rstrip()}
