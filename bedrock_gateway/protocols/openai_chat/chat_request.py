"""The OpenAI Chat Completions request as a whole, validated at the edge into frozen dataclasses.

`parse_chat_request` is the only way in: it checks types and shapes, names the offending field in
`InvalidRequestError.param` (e.g. `messages[2].content[0].image_url.url`) and never lets another
exception escape for bad input. Legacy `functions`/`function_call` and `function` messages are
normalised to tools here, so the translator sees one shape. Bedrock-specific checks (media formats
and sizes, model capabilities) belong to the translation modules (`chat_converse*.py`), not here.
"""


from __future__ import annotations

from bedrock_gateway.protocols.openai_chat.chat_fields import (
    field_error,
    object_field,
    optional_bool,
    optional_int,
    optional_number,
    optional_string,
    required_string,
)
from bedrock_gateway.protocols.openai_chat.chat_message_parsing import (
    parse_messages,
    parse_tool_name,
)
from bedrock_gateway.protocols.openai_chat.chat_types import (
    REASONING_EFFORTS,
    ChatRequest,
    ExtraBody,
    ResponseFormat,
    Tool,
    ToolChoice,
)


def _parse_tools(body: dict) -> tuple[Tool, ...]:
    raw, legacy = body.get("tools"), False
    if raw is None and body.get("functions") is not None:
        raw, legacy = body.get("functions"), True
    if raw is None:
        return ()
    top = "functions" if legacy else "tools"
    if not isinstance(raw, list):
        raise field_error(f"'{top}' must be an array.", top)
    tools, names = [], set()
    for i, item in enumerate(raw):
        p = f"{top}[{i}]"
        item = object_field(item, p)
        if legacy:
            fn, fp = item, p
        else:
            if item.get("type", "function") != "function":
                raise field_error("Only tools of type 'function' are supported.", f"{p}.type")
            fn, fp = object_field(item.get("function"), f"{p}.function"), f"{p}.function"
        name = parse_tool_name(fn.get("name"), f"{fp}.name")
        if name in names:
            raise field_error(f"Tool name {name!r} is used twice.", f"{fp}.name")
        names.add(name)
        params = fn.get("parameters")
        if params is None:
            params = {"type": "object", "properties": {}}
        params = object_field(params, f"{fp}.parameters")
        tools.append(Tool(name, optional_string(fn.get("description"), f"{fp}.description"), params,
                          bool(optional_bool(fn.get("strict"), f"{fp}.strict"))))
    return tuple(tools)


def _parse_tool_choice(body: dict, tools: tuple[Tool, ...]) -> ToolChoice | None:
    param, raw = "tool_choice", body.get("tool_choice")
    if raw is None and body.get("function_call") is not None:
        param, raw = "function_call", body.get("function_call")
    if raw is None:
        return None
    if isinstance(raw, str):
        if raw not in ("none", "auto", "required"):
            raise field_error(f"'{param}' must be none, auto, required or a named function.", param)
        if raw == "required" and not tools:
            raise field_error("'tool_choice' is 'required' but no tools were given.", param)
        return ToolChoice(raw)  # type: ignore[arg-type]
    raw = object_field(raw, param)
    if param == "tool_choice":
        if raw.get("type") != "function":
            raise field_error("Only tool_choice of type 'function' is supported.", f"{param}.type")
        fn = object_field(raw.get("function"), f"{param}.function")
        name_param = f"{param}.function.name"
    else:
        fn, name_param = raw, f"{param}.name"
    name = fn.get("name")
    if not any(t.name == name for t in tools):
        raise field_error(f"'{name_param}' names no tool in the request.", name_param)
    return ToolChoice("function", name)


def _parse_response_format(raw: object) -> ResponseFormat | None:
    if raw is None:
        return None
    fmt = object_field(raw, "response_format")
    kind = fmt.get("type")
    if kind in ("text", "json_object"):
        return ResponseFormat(kind)
    if kind != "json_schema":
        raise field_error("'response_format.type' must be text, json_object or json_schema.",
                          "response_format.type")
    spec = object_field(fmt.get("json_schema"), "response_format.json_schema")
    p = "response_format.json_schema"
    name = spec.get("name", "response")
    name = parse_tool_name(name, f"{p}.name")
    schema = spec.get("schema")
    schema = {"type": "object"} if schema is None else object_field(schema, f"{p}.schema")
    description = optional_string(spec.get("description"), f"{p}.description")
    return ResponseFormat("json_schema", name, description, schema,
                          bool(optional_bool(spec.get("strict"), f"{p}.strict")))


def _reject_unsupported(body: dict) -> None:
    """Parameters that would change the response's shape if honoured: refuse rather than ignore."""
    n = optional_int(body.get("n"), "n", 1)
    if n is not None and n > 1:
        raise field_error("Only n=1 is supported: Amazon Bedrock returns one choice.", "n")
    if optional_bool(body.get("logprobs"), "logprobs"):
        raise field_error("logprobs are not available from Amazon Bedrock.", "logprobs")
    if optional_int(body.get("top_logprobs"), "top_logprobs", 0):
        raise field_error("logprobs are not available from Amazon Bedrock.", "top_logprobs")
    if body.get("logit_bias"):
        raise field_error("logit_bias is not supported by Amazon Bedrock.", "logit_bias")
    if body.get("audio") is not None:
        raise field_error("Audio output is not supported by this gateway.", "audio")
    modalities = body.get("modalities")
    if modalities is not None and (not isinstance(modalities, list) or "audio" in modalities):
        raise field_error("Only the 'text' modality is supported.", "modalities")
    if body.get("web_search_options") is not None:
        raise field_error("Web search is not supported by this gateway.", "web_search_options")
    # Accepted and ignored, but still type-checked so a typo'd value is caught.
    for name in ("presence_penalty", "frequency_penalty"):
        optional_number(body.get(name), name, -2.0, 2.0)


def _parse_stop(raw: object) -> tuple[str, ...]:
    if raw is None:
        return ()
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
        raise field_error("'stop' must be a string or an array of strings.", "stop")
    if len(items) > 4:
        raise field_error("'stop' may hold at most 4 sequences.", "stop")
    return tuple(s for s in items if s)  # Bedrock rejects empty stop sequences


def _parse_extra(body: dict) -> ExtraBody:
    nested = body.get("extra_body")  # when a client sends extra_body literally instead of merged
    src = {**nested, **body} if isinstance(nested, dict) else body

    def opt_obj(name: str) -> dict | None:
        value = src.get(name)
        return None if value is None else object_field(value, name)

    guardrail = opt_obj("guardrailConfig")
    if guardrail is not None:
        for key in ("guardrailIdentifier", "guardrailVersion"):
            required_string(guardrail.get(key), f"guardrailConfig.{key}")
    performance = opt_obj("performanceConfig")
    if performance is not None and performance.get("latency") not in ("standard", "optimized"):
        raise field_error("'performanceConfig.latency' must be standard or optimized.",
                          "performanceConfig.latency")
    metadata = opt_obj("requestMetadata")
    if metadata is not None:
        if len(metadata) > 16:
            raise field_error("'requestMetadata' may hold at most 16 entries.", "requestMetadata")
        for key, value in metadata.items():
            if not key or not isinstance(value, str):
                raise field_error("'requestMetadata' must map non-empty keys to strings.",
                                  f"requestMetadata.{key}")
    thinking = opt_obj("thinking")
    if thinking is not None and not isinstance(thinking.get("type"), str):
        raise field_error("'thinking.type' must be a string.", "thinking.type")
    return ExtraBody(
        additional_model_request_fields=opt_obj("additionalModelRequestFields"),
        guardrail_config=guardrail,
        performance_config=performance,
        request_metadata=metadata,
        thinking=thinking,
        prompt_caching=optional_bool(src.get("prompt_caching"), "prompt_caching"),
        top_k=optional_int(src.get("top_k"), "top_k", 1),
    )


def parse_chat_request(body: object) -> ChatRequest:
    """Validate a decoded JSON body; unknown fields are ignored (clients send many)."""
    body = object_field(body, "body")
    model = optional_string(body.get("model"), "model") or None
    _reject_unsupported(body)
    stream = bool(optional_bool(body.get("stream"), "stream"))
    options = body.get("stream_options")
    include_usage = False
    if options is not None:
        stream_options = object_field(options, "stream_options")
        include_usage = bool(optional_bool(stream_options.get("include_usage"),
                                           "stream_options.include_usage"))
    max_tokens = optional_int(body.get("max_completion_tokens"), "max_completion_tokens", 1)
    if max_tokens is None:
        max_tokens = optional_int(body.get("max_tokens"), "max_tokens", 1)
    effort = body.get("reasoning_effort")
    if effort is not None and effort not in REASONING_EFFORTS:
        raise field_error(f"'reasoning_effort' must be one of {', '.join(REASONING_EFFORTS)}.",
                          "reasoning_effort")
    tools = _parse_tools(body)
    return ChatRequest(
        model=model,
        messages=parse_messages(body.get("messages")),
        stream=stream,
        include_usage=include_usage and stream,
        max_tokens=max_tokens,
        temperature=optional_number(body.get("temperature"), "temperature", 0.0, 2.0),
        top_p=optional_number(body.get("top_p"), "top_p", 0.0, 1.0),
        stop=_parse_stop(body.get("stop")),
        tools=tools,
        tool_choice=_parse_tool_choice(body, tools),
        response_format=_parse_response_format(body.get("response_format")),
        reasoning_effort=effort,
        parallel_tool_calls=optional_bool(body.get("parallel_tool_calls"), "parallel_tool_calls"),
        legacy_functions=body.get("tools") is None and body.get("functions") is not None,
        extra=_parse_extra(body),
    )

