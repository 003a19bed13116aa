"""`messages`: roles, content parts, tool calls and tool results."""

from __future__ import annotations

from typing import Any

import orjson

from bedrock_gateway.protocols.openai_chat.chat_fields import (
    field_error,
    object_field,
    optional_string,
    required_string,
)
from bedrock_gateway.protocols.openai_chat.chat_types import (
    TOOL_NAME,
    ContentPart,
    FilePart,
    ImagePart,
    Message,
    TextPart,
    ToolCall,
)


def _image_part(part: dict, p: str) -> ImagePart:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image  # some clients send a string
    url = required_string(url, f"{p}.image_url.url")
    if not url[:8].lower().startswith(("data:", "http://", "https://")):
        raise field_error("Image URLs must be data:, http: or https: URLs.", f"{p}.image_url.url")
    return ImagePart(url)


def _file_part(part: dict, p: str) -> FilePart:
    file = object_field(part.get("file"), f"{p}.file")
    if file.get("file_id") is not None and file.get("file_data") is None:
        raise field_error("Uploaded files ('file_id') are not supported; send 'file_data'.",
                          f"{p}.file.file_id")
    return FilePart(required_string(file.get("file_data"), f"{p}.file.file_data"),
                    optional_string(file.get("filename"), f"{p}.file.filename"))


def _parts(content: object, param: str, *, media: bool = False, refusal: bool = False) -> tuple:
    """A string, or an array of parts: text always (and refusal for assistant history); images
    and files only where `media` (user messages)."""
    if isinstance(content, str):
        return (TextPart(content),)
    if not isinstance(content, list):
        raise field_error(f"'{param}' must be a string or an array of content parts.", param)
    parts: list[ContentPart] = []
    for j, part in enumerate(content):
        p = f"{param}[{j}]"
        kind = object_field(part, p).get("type")
        if kind == "text" or (refusal and kind == "refusal"):
            parts.append(TextPart(required_string(part.get(kind), f"{p}.{kind}", empty_ok=True)))
        elif not media:
            raise field_error(f"Content part type {kind!r} is not allowed here, only text.",
                              f"{p}.type")
        elif kind == "image_url":
            parts.append(_image_part(part, p))
        elif kind == "file":
            parts.append(_file_part(part, p))
        elif kind == "input_audio":
            raise field_error("Audio input is not supported by this gateway.", p)
        else:
            raise field_error(f"Unknown content part type {kind!r}.", f"{p}.type")
    return tuple(parts)


def _arguments(raw: object, param: str) -> Any:
    if isinstance(raw, dict):  # lenient: some clients send the object itself
        return raw
    if not isinstance(raw, str):
        raise field_error(f"'{param}' must be a JSON string.", param)
    if not raw.strip():
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise field_error(f"'{param}' is not valid JSON.", param) from None
    if not isinstance(value, dict):
        raise field_error(f"'{param}' must encode a JSON object.", param)
    return value


def parse_tool_name(value: object, param: str) -> str:
    if not isinstance(value, str) or not TOOL_NAME.fullmatch(value):
        raise field_error(f"'{param}' must be 1-64 characters of a-z, A-Z, 0-9, '_' or '-'.", param)
    return value


def _tool_calls(raw: object, param: str) -> tuple[ToolCall, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise field_error(f"'{param}' must be an array.", param)
    calls = []
    for j, call in enumerate(raw):
        p = f"{param}[{j}]"
        call = object_field(call, p)
        if call.get("type", "function") != "function":
            raise field_error("Only tool calls of type 'function' are supported.", f"{p}.type")
        call_id = required_string(call.get("id"), f"{p}.id")
        fn = object_field(call.get("function"), f"{p}.function")
        name = parse_tool_name(fn.get("name"), f"{p}.function.name")
        calls.append(ToolCall(call_id, name,
                              _arguments(fn.get("arguments"), f"{p}.function.arguments")))
    return tuple(calls)


class _Calls:
    """Tool calls seen so far: which a tool message may answer, and which still wait for one."""

    def __init__(self) -> None:
        self.known: set[str] = set()
        self.waiting: dict[str, str] = {}  # id -> param of the call
        self.legacy: dict[str, list[str]] = {}  # function name -> ids of legacy function_calls

    def check_answered(self) -> None:
        if self.waiting:
            param = next(iter(self.waiting.values()))
            raise field_error("An assistant message with 'tool_calls' must be followed by tool "
                              "messages answering each call.", param)


def _parse_message(raw: object, i: int, calls: _Calls) -> Message:
    p = f"messages[{i}]"
    raw = object_field(raw, p)
    role = raw.get("role")
    content = raw.get("content")
    if role not in ("tool", "function"):
        calls.check_answered()
    if role in ("system", "developer", "user", "tool") and content is None:
        raise field_error(f"'{p}.content' is required for {role} messages.", f"{p}.content")
    if role in ("system", "developer"):
        return Message(role, _parts(content, f"{p}.content"), i)
    if role == "user":
        return Message("user", _parts(content, f"{p}.content", media=True), i)
    if role == "assistant":
        tool_calls = _tool_calls(raw.get("tool_calls"), f"{p}.tool_calls")
        legacy = raw.get("function_call")
        if legacy is not None and not tool_calls:
            fn = object_field(legacy, f"{p}.function_call")
            fn_name = parse_tool_name(fn.get("name"), f"{p}.function_call.name")
            fn_call_id = f"call_fn_{i}"
            tool_calls = (ToolCall(fn_call_id, fn_name, _arguments(fn.get("arguments"),
                                                                   f"{p}.function_call.arguments")),)
            calls.legacy.setdefault(fn_name, []).append(fn_call_id)
        if content is None:
            content = raw.get("refusal")
        if content is None and not tool_calls:
            raise field_error(f"'{p}.content' is required unless 'tool_calls' is given.",
                              f"{p}.content")
        parts = () if content is None else _parts(content, f"{p}.content", refusal=True)
        for j, call in enumerate(tool_calls):
            calls.known.add(call.id)
            calls.waiting[call.id] = f"{p}.tool_calls[{j}]"
        return Message("assistant", parts, i, tool_calls=tool_calls)
    if role == "tool":
        call_id = raw.get("tool_call_id")
        if not isinstance(call_id, str) or call_id not in calls.known:
            raise field_error("'tool_call_id' does not match any earlier assistant tool call.",
                              f"{p}.tool_call_id")
        calls.waiting.pop(call_id, None)
        return Message("tool", _parts(content, f"{p}.content"), i, tool_call_id=call_id,
                       content_is_string=isinstance(content, str))
    if role == "function":  # legacy: answers the earliest open function_call of that name
        name = raw.get("name")
        pending = calls.legacy.get(name) if isinstance(name, str) else None
        if not pending:
            raise field_error("This function message answers no earlier 'function_call'.",
                              f"{p}.name")
        call_id = pending.pop(0)
        calls.waiting.pop(call_id, None)
        text = "" if content is None else content
        return Message("tool", _parts(text, f"{p}.content"), i, tool_call_id=call_id,
                       content_is_string=isinstance(text, str))
    raise field_error(f"Unknown role {role!r}; expected system, developer, user, assistant or "
                      "tool.", f"{p}.role")


def parse_messages(value: object) -> tuple[Message, ...]:
    if value is None:
        raise field_error("'messages' is required.", "messages")
    if not isinstance(value, list):
        raise field_error("'messages' must be an array.", "messages")
    if not value:
        raise field_error("'messages' must contain at least one message.", "messages")
    calls = _Calls()
    messages = tuple(_parse_message(raw, i, calls) for i, raw in enumerate(value))
    calls.check_answered()
    return messages
