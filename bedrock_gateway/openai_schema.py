"""The OpenAI Chat Completions request, validated at the edge into frozen dataclasses.

`parse_chat_request` is the only way in: it checks types and shapes, names the offending field in
`InvalidRequestError.param` (e.g. `messages[2].content[0].image_url.url`) and never lets another
exception escape for bad input. Legacy `functions`/`function_call` and `function` messages are
normalised to tools here, so the translator sees one shape. Bedrock-specific checks (media formats
and sizes, model capabilities) belong to `translate/`, not here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from bedrock_gateway.errors import InvalidRequestError

Role = Literal["system", "developer", "user", "assistant", "tool"]
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high")
TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str


@dataclass(frozen=True, slots=True)
class ImagePart:
    url: str  # a data: URL or an http(s) URL, as sent


@dataclass(frozen=True, slots=True)
class FilePart:
    file_data: str  # a data: URL, or bare base64
    filename: str | None = None


ContentPart = TextPart | ImagePart | FilePart


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    input: Any  # the parsed `arguments` (a JSON object)


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: tuple[ContentPart, ...]
    index: int  # position in the request's `messages`, for error params
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    content_is_string: bool = False  # tool results: a string may be JSON


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str | None
    parameters: dict
    strict: bool = False


@dataclass(frozen=True, slots=True)
class ToolChoice:
    mode: Literal["auto", "none", "required", "function"]
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    type: Literal["text", "json_object", "json_schema"]
    name: str | None = None
    description: str | None = None
    schema: dict | None = None
    strict: bool = False


@dataclass(frozen=True, slots=True)
class ExtraBody:
    """Bedrock fields clients send through the openai SDK's `extra_body` (merged into the body)."""

    additional_model_request_fields: dict | None = None
    guardrail_config: dict | None = None
    performance_config: dict | None = None
    request_metadata: dict | None = None
    thinking: dict | None = None
    prompt_caching: bool | None = None
    top_k: int | None = None


@dataclass(frozen=True, slots=True)
class ChatRequest:
    model: str | None
    messages: tuple[Message, ...]
    stream: bool = False
    include_usage: bool = False
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice | None = None
    response_format: ResponseFormat | None = None
    reasoning_effort: str | None = None
    parallel_tool_calls: bool | None = None
    extra: ExtraBody = field(default_factory=ExtraBody)


def _invalid(message: str, param: str) -> InvalidRequestError:
    return InvalidRequestError(message, param=param)


def _obj(value: object, param: str) -> dict:
    if not isinstance(value, dict):
        raise _invalid(f"'{param}' must be an object.", param)
    return value


def _opt_str(value: object, param: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise _invalid(f"'{param}' must be a string.", param)
    return value


def _opt_bool(value: object, param: str) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise _invalid(f"'{param}' must be a boolean.", param)
    return value


def _opt_int(value: object, param: str, minimum: int) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise _invalid(f"'{param}' must be an integer.", param)
    if value < minimum:
        raise _invalid(f"'{param}' must be at least {minimum}.", param)
    return value


def _opt_num(value: object, param: str, low: float, high: float) -> float | None:
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise _invalid(f"'{param}' must be a number.", param)
    if not low <= value <= high:
        raise _invalid(f"'{param}' must be between {low:g} and {high:g}.", param)
    return float(value)


def _string(value: object, param: str, *, empty_ok: bool = False) -> str:
    if not isinstance(value, str) or not (value or empty_ok):
        raise _invalid(f"'{param}' must be a {'' if empty_ok else 'non-empty '}string.", param)
    return value


def _image_part(part: dict, p: str) -> ImagePart:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image  # some clients send a string
    url = _string(url, f"{p}.image_url.url")
    if not url[:8].lower().startswith(("data:", "http://", "https://")):
        raise _invalid("Image URLs must be data:, http: or https: URLs.", f"{p}.image_url.url")
    return ImagePart(url)


def _file_part(part: dict, p: str) -> FilePart:
    file = _obj(part.get("file"), f"{p}.file")
    if file.get("file_id") is not None and file.get("file_data") is None:
        raise _invalid("Uploaded files ('file_id') are not supported; send 'file_data'.",
                       f"{p}.file.file_id")
    return FilePart(_string(file.get("file_data"), f"{p}.file.file_data"),
                    _opt_str(file.get("filename"), f"{p}.file.filename"))


def _parts(content: object, param: str, *, media: bool = False, refusal: bool = False) -> tuple:
    """A string, or an array of parts: text always (and refusal for assistant history); images
    and files only where `media` (user messages)."""
    if isinstance(content, str):
        return (TextPart(content),)
    if not isinstance(content, list):
        raise _invalid(f"'{param}' must be a string or an array of content parts.", param)
    parts: list[ContentPart] = []
    for j, part in enumerate(content):
        p = f"{param}[{j}]"
        kind = _obj(part, p).get("type")
        if kind == "text" or (refusal and kind == "refusal"):
            parts.append(TextPart(_string(part.get(kind), f"{p}.{kind}", empty_ok=True)))
        elif not media:
            raise _invalid(f"Content part type {kind!r} is not allowed here, only text.",
                           f"{p}.type")
        elif kind == "image_url":
            parts.append(_image_part(part, p))
        elif kind == "file":
            parts.append(_file_part(part, p))
        elif kind == "input_audio":
            raise _invalid("Audio input is not supported by this gateway.", p)
        else:
            raise _invalid(f"Unknown content part type {kind!r}.", f"{p}.type")
    return tuple(parts)


def _arguments(raw: object, param: str) -> Any:
    if isinstance(raw, dict):  # lenient: some clients send the object itself
        return raw
    if not isinstance(raw, str):
        raise _invalid(f"'{param}' must be a JSON string.", param)
    if not raw.strip():
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _invalid(f"'{param}' is not valid JSON.", param) from None
    if not isinstance(value, dict):
        raise _invalid(f"'{param}' must encode a JSON object.", param)
    return value


def _tool_name(value: object, param: str) -> str:
    if not isinstance(value, str) or not TOOL_NAME.fullmatch(value):
        raise _invalid(f"'{param}' must be 1-64 characters of a-z, A-Z, 0-9, '_' or '-'.", param)
    return value


def _tool_calls(raw: object, param: str) -> tuple[ToolCall, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _invalid(f"'{param}' must be an array.", param)
    calls = []
    for j, call in enumerate(raw):
        p = f"{param}[{j}]"
        call = _obj(call, p)
        if call.get("type", "function") != "function":
            raise _invalid("Only tool calls of type 'function' are supported.", f"{p}.type")
        call_id = _string(call.get("id"), f"{p}.id")
        fn = _obj(call.get("function"), f"{p}.function")
        name = _tool_name(fn.get("name"), f"{p}.function.name")
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
            raise _invalid("An assistant message with 'tool_calls' must be followed by tool "
                           "messages answering each call.", param)


def _parse_message(raw: object, i: int, calls: _Calls) -> Message:
    p = f"messages[{i}]"
    raw = _obj(raw, p)
    role = raw.get("role")
    content = raw.get("content")
    if role not in ("tool", "function"):
        calls.check_answered()
    if role in ("system", "developer", "user", "tool") and content is None:
        raise _invalid(f"'{p}.content' is required for {role} messages.", f"{p}.content")
    if role in ("system", "developer"):
        return Message(role, _parts(content, f"{p}.content"), i)
    if role == "user":
        return Message("user", _parts(content, f"{p}.content", media=True), i)
    if role == "assistant":
        tool_calls = _tool_calls(raw.get("tool_calls"), f"{p}.tool_calls")
        legacy = raw.get("function_call")
        if legacy is not None and not tool_calls:
            fn = _obj(legacy, f"{p}.function_call")
            name = _tool_name(fn.get("name"), f"{p}.function_call.name")
            call_id = f"call_fn_{i}"
            tool_calls = (ToolCall(call_id, name, _arguments(fn.get("arguments"),
                                                             f"{p}.function_call.arguments")),)
            calls.legacy.setdefault(name, []).append(call_id)
        if content is None:
            content = raw.get("refusal")
        if content is None and not tool_calls:
            raise _invalid(f"'{p}.content' is required unless 'tool_calls' is given.",
                           f"{p}.content")
        parts = () if content is None else _parts(content, f"{p}.content", refusal=True)
        for j, call in enumerate(tool_calls):
            calls.known.add(call.id)
            calls.waiting[call.id] = f"{p}.tool_calls[{j}]"
        return Message("assistant", parts, i, tool_calls=tool_calls)
    if role == "tool":
        call_id = raw.get("tool_call_id")
        if not isinstance(call_id, str) or call_id not in calls.known:
            raise _invalid("'tool_call_id' does not match any earlier assistant tool call.",
                           f"{p}.tool_call_id")
        calls.waiting.pop(call_id, None)
        return Message("tool", _parts(content, f"{p}.content"), i, tool_call_id=call_id,
                       content_is_string=isinstance(content, str))
    if role == "function":  # legacy: answers the earliest open function_call of that name
        name = raw.get("name")
        pending = calls.legacy.get(name) if isinstance(name, str) else None
        if not pending:
            raise _invalid("This function message answers no earlier 'function_call'.",
                           f"{p}.name")
        call_id = pending.pop(0)
        calls.waiting.pop(call_id, None)
        text = "" if content is None else content
        return Message("tool", _parts(text, f"{p}.content"), i, tool_call_id=call_id,
                       content_is_string=isinstance(text, str))
    raise _invalid(f"Unknown role {role!r}; expected system, developer, user, assistant or tool.",
                   f"{p}.role")


def _parse_messages(value: object) -> tuple[Message, ...]:
    if value is None:
        raise _invalid("'messages' is required.", "messages")
    if not isinstance(value, list):
        raise _invalid("'messages' must be an array.", "messages")
    if not value:
        raise _invalid("'messages' must contain at least one message.", "messages")
    calls = _Calls()
    messages = tuple(_parse_message(raw, i, calls) for i, raw in enumerate(value))
    calls.check_answered()
    return messages


def _parse_tools(body: dict) -> tuple[Tool, ...]:
    raw, legacy = body.get("tools"), False
    if raw is None and body.get("functions") is not None:
        raw, legacy = body.get("functions"), True
    if raw is None:
        return ()
    top = "functions" if legacy else "tools"
    if not isinstance(raw, list):
        raise _invalid(f"'{top}' must be an array.", top)
    tools, names = [], set()
    for i, item in enumerate(raw):
        p = f"{top}[{i}]"
        item = _obj(item, p)
        if legacy:
            fn, fp = item, p
        else:
            if item.get("type", "function") != "function":
                raise _invalid("Only tools of type 'function' are supported.", f"{p}.type")
            fn, fp = _obj(item.get("function"), f"{p}.function"), f"{p}.function"
        name = _tool_name(fn.get("name"), f"{fp}.name")
        if name in names:
            raise _invalid(f"Tool name {name!r} is used twice.", f"{fp}.name")
        names.add(name)
        params = fn.get("parameters")
        if params is None:
            params = {"type": "object", "properties": {}}
        params = _obj(params, f"{fp}.parameters")
        tools.append(Tool(name, _opt_str(fn.get("description"), f"{fp}.description"), params,
                          bool(_opt_bool(fn.get("strict"), f"{fp}.strict"))))
    return tuple(tools)


def _parse_tool_choice(body: dict, tools: tuple[Tool, ...]) -> ToolChoice | None:
    param, raw = "tool_choice", body.get("tool_choice")
    if raw is None and body.get("function_call") is not None:
        param, raw = "function_call", body.get("function_call")
    if raw is None:
        return None
    if isinstance(raw, str):
        if raw not in ("none", "auto", "required"):
            raise _invalid(f"'{param}' must be none, auto, required or a named function.", param)
        if raw == "required" and not tools:
            raise _invalid("'tool_choice' is 'required' but no tools were given.", param)
        return ToolChoice(raw)  # type: ignore[arg-type]
    raw = _obj(raw, param)
    if param == "tool_choice":
        if raw.get("type") != "function":
            raise _invalid("Only tool_choice of type 'function' is supported.", f"{param}.type")
        fn, name_param = _obj(raw.get("function"), f"{param}.function"), f"{param}.function.name"
    else:
        fn, name_param = raw, f"{param}.name"
    name = fn.get("name")
    if not any(t.name == name for t in tools):
        raise _invalid(f"'{name_param}' names no tool in the request.", name_param)
    return ToolChoice("function", name)


def _parse_response_format(raw: object) -> ResponseFormat | None:
    if raw is None:
        return None
    kind = _obj(raw, "response_format").get("type")
    if kind in ("text", "json_object"):
        return ResponseFormat(kind)
    if kind != "json_schema":
        raise _invalid("'response_format.type' must be text, json_object or json_schema.",
                       "response_format.type")
    spec = _obj(raw.get("json_schema"), "response_format.json_schema")
    p = "response_format.json_schema"
    name = spec.get("name", "response")
    name = _tool_name(name, f"{p}.name")
    schema = spec.get("schema")
    schema = {"type": "object"} if schema is None else _obj(schema, f"{p}.schema")
    description = _opt_str(spec.get("description"), f"{p}.description")
    return ResponseFormat("json_schema", name, description, schema,
                          bool(_opt_bool(spec.get("strict"), f"{p}.strict")))


def _reject_unsupported(body: dict) -> None:
    """Parameters that would change the response's shape if honoured: refuse rather than ignore."""
    n = _opt_int(body.get("n"), "n", 1)
    if n is not None and n > 1:
        raise _invalid("Only n=1 is supported: Amazon Bedrock returns one choice.", "n")
    if _opt_bool(body.get("logprobs"), "logprobs"):
        raise _invalid("logprobs are not available from Amazon Bedrock.", "logprobs")
    if _opt_int(body.get("top_logprobs"), "top_logprobs", 0):
        raise _invalid("logprobs are not available from Amazon Bedrock.", "top_logprobs")
    if body.get("logit_bias"):
        raise _invalid("logit_bias is not supported by Amazon Bedrock.", "logit_bias")
    if body.get("audio") is not None:
        raise _invalid("Audio output is not supported by this gateway.", "audio")
    modalities = body.get("modalities")
    if modalities is not None and (not isinstance(modalities, list) or "audio" in modalities):
        raise _invalid("Only the 'text' modality is supported.", "modalities")
    if body.get("web_search_options") is not None:
        raise _invalid("Web search is not supported by this gateway.", "web_search_options")
    # Accepted and ignored, but still type-checked so a typo'd value is caught.
    for name in ("presence_penalty", "frequency_penalty"):
        _opt_num(body.get(name), name, -2.0, 2.0)


def _parse_stop(raw: object) -> tuple[str, ...]:
    if raw is None:
        return ()
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
        raise _invalid("'stop' must be a string or an array of strings.", "stop")
    if len(items) > 4:
        raise _invalid("'stop' may hold at most 4 sequences.", "stop")
    return tuple(s for s in items if s)  # Bedrock rejects empty stop sequences


def _parse_extra(body: dict) -> ExtraBody:
    nested = body.get("extra_body")  # when a client sends extra_body literally instead of merged
    src = {**nested, **body} if isinstance(nested, dict) else body

    def opt_obj(name: str) -> dict | None:
        value = src.get(name)
        return None if value is None else _obj(value, name)

    guardrail = opt_obj("guardrailConfig")
    if guardrail is not None:
        for key in ("guardrailIdentifier", "guardrailVersion"):
            _string(guardrail.get(key), f"guardrailConfig.{key}")
    performance = opt_obj("performanceConfig")
    if performance is not None and performance.get("latency") not in ("standard", "optimized"):
        raise _invalid("'performanceConfig.latency' must be standard or optimized.",
                       "performanceConfig.latency")
    metadata = opt_obj("requestMetadata")
    if metadata is not None:
        if len(metadata) > 16:
            raise _invalid("'requestMetadata' may hold at most 16 entries.", "requestMetadata")
        for key, value in metadata.items():
            if not key or not isinstance(value, str):
                raise _invalid("'requestMetadata' must map non-empty keys to strings.",
                               f"requestMetadata.{key}")
    thinking = opt_obj("thinking")
    if thinking is not None and not isinstance(thinking.get("type"), str):
        raise _invalid("'thinking.type' must be a string.", "thinking.type")
    return ExtraBody(
        additional_model_request_fields=opt_obj("additionalModelRequestFields"),
        guardrail_config=guardrail,
        performance_config=performance,
        request_metadata=metadata,
        thinking=thinking,
        prompt_caching=_opt_bool(src.get("prompt_caching"), "prompt_caching"),
        top_k=_opt_int(src.get("top_k"), "top_k", 1),
    )


def parse_chat_request(body: object) -> ChatRequest:
    """Validate a decoded JSON body; unknown fields are ignored (clients send many)."""
    body = _obj(body, "body")
    model = _opt_str(body.get("model"), "model") or None
    _reject_unsupported(body)
    stream = bool(_opt_bool(body.get("stream"), "stream"))
    options = body.get("stream_options")
    include_usage = False
    if options is not None:
        include_usage = bool(_opt_bool(_obj(options, "stream_options").get("include_usage"),
                                       "stream_options.include_usage"))
    max_tokens = _opt_int(body.get("max_completion_tokens"), "max_completion_tokens", 1)
    if max_tokens is None:
        max_tokens = _opt_int(body.get("max_tokens"), "max_tokens", 1)
    effort = body.get("reasoning_effort")
    if effort is not None and effort not in REASONING_EFFORTS:
        raise _invalid(f"'reasoning_effort' must be one of {', '.join(REASONING_EFFORTS)}.",
                       "reasoning_effort")
    tools = _parse_tools(body)
    return ChatRequest(
        model=model,
        messages=_parse_messages(body.get("messages")),
        stream=stream,
        include_usage=include_usage and stream,
        max_tokens=max_tokens,
        temperature=_opt_num(body.get("temperature"), "temperature", 0.0, 2.0),
        top_p=_opt_num(body.get("top_p"), "top_p", 0.0, 1.0),
        stop=_parse_stop(body.get("stop")),
        tools=tools,
        tool_choice=_parse_tool_choice(body, tools),
        response_format=_parse_response_format(body.get("response_format")),
        reasoning_effort=effort,
        parallel_tool_calls=_opt_bool(body.get("parallel_tool_calls"), "parallel_tool_calls"),
        extra=_parse_extra(body),
    )


def remote_image_urls(req: ChatRequest) -> list[str]:
    """The http(s) image URLs the server must fetch before translating, each once, in order."""
    urls: dict[str, None] = {}
    for message in req.messages:
        for part in message.content:
            if type(part) is ImagePart and part.url[:5].lower() != "data:":
                urls[part.url] = None
    return list(urls)
