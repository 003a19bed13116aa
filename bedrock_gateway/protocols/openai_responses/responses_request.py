"""The Responses API request, validated at the edge: `parse_responses_request` is the only way in.

Tools: `function` tools pass through; functions inside a `namespace` (as Codex groups them) get
the Bedrock name `<namespace>__<name>`; `custom` (freeform) tools become Bedrock tools with one
string parameter, `input`. Hosted tools the gateway cannot run (web search, file search, code
interpreter, computer use, ...) are accepted and not forwarded, and named in `dropped_tools`,
unless `reject_hosted_tools` makes them a 400.
"""

from __future__ import annotations

import hashlib
import math

from bedrock_gateway.protocols.openai_chat import ResponseFormat, Tool, ToolChoice
from bedrock_gateway.protocols.openai_chat.chat_types import TOOL_NAME
from bedrock_gateway.protocols.openai_responses.responses_items import (
    object_field,
    optional_string,
    invalid,
    parse_input,
)
from bedrock_gateway.protocols.openai_responses.responses_types import (
    CUSTOM_INPUT_FIELD,
    ResponsesRequest,
    ToolRef,
)

EFFORTS = {"none": "none", "minimal": "minimal", "low": "low", "medium": "medium",
           "high": "high", "xhigh": "high"}
SUMMARIES = ("auto", "concise", "detailed")
INCLUDABLE = ("reasoning.encrypted_content", "message.output_text.logprobs",
              "web_search_call.action.sources", "code_interpreter_call.outputs",
              "computer_call_output.output.image_url", "file_search_call.results",
              "message.input_image.image_url")
_UNSUPPORTED = {"background": "Background responses are not supported by this gateway.",
                "conversation": "Conversations are not supported; use 'previous_response_id'.",
                "prompt": "Prompt templates are not supported by this gateway."}


def bedrock_tool_name(name: str, namespace: str | None) -> str:
    """The Bedrock name of a client tool ([a-zA-Z0-9_-]{1,64}), stable for the same input."""
    full = f"{namespace}__{name}" if namespace else name
    if TOOL_NAME.fullmatch(full):
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    cleaned = "".join(c if c.isalnum() or c in "_-" else "_" for c in full)
    return f"{cleaned[:55]}_{digest}"


def _opt_bool(value: object, param: str) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise invalid(f"'{param}' must be a boolean.", param)
    return value


def _opt_num(value: object, param: str, low: float, high: float) -> float | None:
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise invalid(f"'{param}' must be a number.", param)
    if not low <= value <= high:
        raise invalid(f"'{param}' must be between {low:g} and {high:g}.", param)
    return float(value)


def _opt_int(value: object, param: str, minimum: int) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise invalid(f"'{param}' must be an integer of at least {minimum}.", param)
    return value


def _custom_description(tool: dict) -> str | None:
    description = tool.get("description") or ""
    fmt = tool.get("format")
    if isinstance(fmt, dict) and fmt.get("type") == "grammar":
        description += (f"\nThe input must follow this {fmt.get('syntax', '')} grammar:\n"
                        f"{fmt.get('definition', '')}")
    return description.strip() or None


class _ToolSet:
    def __init__(self) -> None:
        self.tools: list[Tool] = []
        self.refs: dict[str, ToolRef] = {}
        self.dropped: list[str] = []

    def add(self, tool: dict, p: str, namespace: str | None) -> None:
        kind = tool.get("type", "function")
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise invalid(f"'{p}.name' must be a non-empty string.", f"{p}.name")
        bedrock = bedrock_tool_name(name, namespace)
        if bedrock in self.refs:
            raise invalid(f"Tool name {name!r} is used twice.", f"{p}.name")
        description = optional_string(tool.get("description"), f"{p}.description")
        if kind == "function":
            params = tool.get("parameters")
            params = {"type": "object", "properties": {}} if params is None else \
                object_field(params, f"{p}.parameters")
            self.tools.append(Tool(bedrock, description, params,
                                   bool(_opt_bool(tool.get("strict"), f"{p}.strict"))))
            self.refs[bedrock] = ToolRef("function", name, namespace)
        else:
            schema = {"type": "object", "required": [CUSTOM_INPUT_FIELD],
                      "properties": {CUSTOM_INPUT_FIELD: {
                          "type": "string", "description": "The tool's whole input, as text."}}}
            self.tools.append(Tool(bedrock, _custom_description(tool), schema, False))
            self.refs[bedrock] = ToolRef("custom", name, namespace)


def _parse_tools(raw: object, reject_hosted: bool) -> _ToolSet:
    tools = _ToolSet()
    if raw is None:
        return tools
    if not isinstance(raw, list):
        raise invalid("'tools' must be an array.", "tools")
    for i, item in enumerate(raw):
        p = f"tools[{i}]"
        kind = object_field(item, p).get("type", "function")
        if kind in ("function", "custom"):
            tools.add(item, p, None)
        elif kind == "namespace":
            namespace = item.get("name")
            if not isinstance(namespace, str) or not namespace:
                raise invalid(f"'{p}.name' must be a non-empty string.", f"{p}.name")
            inner = item.get("tools")
            if not isinstance(inner, list):
                raise invalid(f"'{p}.tools' must be an array.", f"{p}.tools")
            for j, tool in enumerate(inner):
                q = f"{p}.tools[{j}]"
                if object_field(tool, q).get("type", "function") not in ("function", "custom"):
                    raise invalid("A namespace holds function and custom tools only.",
                                  f"{q}.type")
                tools.add(tool, q, namespace)
        elif not isinstance(kind, str):
            raise invalid(f"'{p}.type' must be a string.", f"{p}.type")
        elif reject_hosted:
            raise invalid(f"The hosted tool {kind!r} is not available through this gateway.",
                          f"{p}.type", "unsupported_tool")
        else:
            tools.dropped.append(kind)
    return tools


def _parse_tool_choice(raw: object, tools: _ToolSet) -> ToolChoice | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        if raw not in ("none", "auto", "required"):
            raise invalid("'tool_choice' must be none, auto, required or a named tool.",
                          "tool_choice")
        if raw == "required" and not tools.tools:
            return None  # only hosted tools were offered: nothing to force
        return ToolChoice(raw)  # type: ignore[arg-type]
    raw = object_field(raw, "tool_choice")
    kind = raw.get("type")
    if kind == "allowed_tools":
        mode = raw.get("mode", "auto")
        if mode not in ("auto", "required"):
            raise invalid("'tool_choice.mode' must be auto or required.", "tool_choice.mode")
        return ToolChoice(mode) if tools.tools else None
    if kind in ("function", "custom"):
        name = bedrock_tool_name(str(raw.get("name")), raw.get("namespace"))
        if name not in tools.refs:
            raise invalid("'tool_choice.name' names no tool in the request.", "tool_choice.name")
        return ToolChoice("function", name)
    return None  # a hosted tool: not forwarded, so nothing to force


def _parse_text_format(raw: object) -> ResponseFormat | None:
    if raw is None:
        return None
    fmt = object_field(raw, "text").get("format")
    if fmt is None:
        return None
    kind = object_field(fmt, "text.format").get("type")
    if kind in ("text", "json_object"):
        return ResponseFormat(kind)
    if kind != "json_schema":
        raise invalid("'text.format.type' must be text, json_object or json_schema.",
                      "text.format.type")
    name = fmt.get("name", "response")
    if not isinstance(name, str) or not TOOL_NAME.fullmatch(name):
        raise invalid("'text.format.name' must be 1-64 characters of a-z, A-Z, 0-9, '_' or '-'.",
                      "text.format.name")
    schema = fmt.get("schema")
    schema = {"type": "object"} if schema is None else object_field(schema, "text.format.schema")
    return ResponseFormat("json_schema", name,
                          optional_string(fmt.get("description"), "text.format.description"),
                          schema, bool(_opt_bool(fmt.get("strict"), "text.format.strict")))


def _parse_reasoning(raw: object) -> tuple[str | None, str | None]:
    if raw is None:
        return None, None
    raw = object_field(raw, "reasoning")
    effort = raw.get("effort")
    if effort is not None and effort not in EFFORTS:
        raise invalid(f"'reasoning.effort' must be one of {', '.join(EFFORTS)}.",
                      "reasoning.effort")
    summary = raw.get("summary", raw.get("generate_summary"))
    if summary is not None and summary not in SUMMARIES:
        raise invalid(f"'reasoning.summary' must be one of {', '.join(SUMMARIES)}.",
                      "reasoning.summary")
    return (EFFORTS[effort] if effort else None), summary


def _parse_metadata(raw: object) -> dict:
    if raw is None:
        return {}
    raw = object_field(raw, "metadata")
    if len(raw) > 16:
        raise invalid("'metadata' may hold at most 16 entries.", "metadata")
    for key, value in raw.items():
        if len(key) > 64 or not isinstance(value, str) or len(value) > 512:
            raise invalid("'metadata' maps keys of up to 64 characters to strings of up to 512.",
                          f"metadata.{key}")
    return raw


def _parse_include(raw: object) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise invalid("'include' must be an array of strings.", "include")
    for value in raw:
        if value not in INCLUDABLE:
            raise invalid(f"'include' value {value!r} is not supported.", "include")
    return tuple(raw)


def parse_responses_request(body: object, *, reject_hosted_tools: bool = False
                            ) -> ResponsesRequest:
    """Validate a decoded JSON body; unknown fields are ignored (clients send many)."""
    body = object_field(body, "body")
    for name, message in _UNSUPPORTED.items():
        if body.get(name):
            raise invalid(message, name, "unsupported_parameter")
    model = optional_string(body.get("model"), "model") or None
    tools = _parse_tools(body.get("tools"), reject_hosted_tools)
    effort, summary = _parse_reasoning(body.get("reasoning"))
    store = _opt_bool(body.get("store"), "store")
    instructions = optional_string(body.get("instructions"), "instructions")
    previous = optional_string(body.get("previous_response_id"), "previous_response_id") or None
    max_output = _opt_int(body.get("max_output_tokens"), "max_output_tokens", 1)
    temperature = _opt_num(body.get("temperature"), "temperature", 0.0, 2.0)
    top_p = _opt_num(body.get("top_p"), "top_p", 0.0, 1.0)
    parallel = _opt_bool(body.get("parallel_tool_calls"), "parallel_tool_calls")
    text_format = _parse_text_format(body.get("text"))
    metadata = _parse_metadata(body.get("metadata"))
    truncation = body.get("truncation", "disabled")
    if truncation not in ("auto", "disabled"):
        raise invalid("'truncation' must be auto or disabled.", "truncation")
    for name in ("user", "safety_identifier", "prompt_cache_key", "service_tier"):
        optional_string(body.get(name), name)
    _opt_int(body.get("max_tool_calls"), "max_tool_calls", 1)
    _opt_int(body.get("top_logprobs"), "top_logprobs", 0)
    tool_choice = _parse_tool_choice(body.get("tool_choice"), tools)
    echo = {
        "instructions": instructions,
        "max_output_tokens": max_output,
        "metadata": metadata,
        "parallel_tool_calls": True if parallel is None else parallel,
        "previous_response_id": previous,
        "reasoning": {"effort": body.get("reasoning", {}).get("effort")
                      if isinstance(body.get("reasoning"), dict) else None,
                      "summary": summary},
        "store": True if store is None else store,
        "temperature": 1.0 if temperature is None else temperature,
        "text": {"format": body["text"]["format"] if text_format is not None else
                 {"type": "text"}},
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": body.get("tools") or [],
        "top_p": 1.0 if top_p is None else top_p,
        "truncation": truncation,
        "user": body.get("user"),
        "safety_identifier": body.get("safety_identifier"),
        "prompt_cache_key": body.get("prompt_cache_key"),
    }
    return ResponsesRequest(
        model=model,
        input_items=tuple(parse_input(body.get("input"))),
        instructions=instructions,
        stream=bool(_opt_bool(body.get("stream"), "stream")),
        store=True if store is None else store,
        include=_parse_include(body.get("include")),
        previous_response_id=previous,
        tools=tuple(tools.tools),
        tool_refs=tools.refs,
        dropped_tools=tuple(dict.fromkeys(tools.dropped)),
        tool_choice=tool_choice,
        parallel_tool_calls=True if parallel is None else parallel,
        max_output_tokens=max_output,
        temperature=temperature,
        top_p=top_p,
        reasoning_effort=effort,
        reasoning_summary=summary,
        text_format=text_format,
        echo=echo,
    )
