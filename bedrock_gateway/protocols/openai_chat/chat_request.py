"""The OpenAI Chat Completions request as a whole, validated at the edge into frozen dataclasses.

`parse_chat_request` is the only way in: it checks types and shapes, names the offending field in
`InvalidRequestError.param` (e.g. `messages[2].content[0].image_url.url`) and never lets another
exception escape for bad input. Legacy `functions`/`function_call` and `function` messages are
normalised to tools here, so the translator sees one shape. Bedrock-specific checks (media formats
and sizes, model capabilities) belong to the translation modules (`chat_converse*.py`), not here.
"""


from __future__ import annotations

from bedrock_gateway.protocols.openai_chat.chat_fields import (
    _invalid,
    _obj,
    _opt_bool,
    _opt_int,
    _opt_num,
    _opt_str,
    _string,
)
from bedrock_gateway.protocols.openai_chat.chat_message_parsing import (
    _parse_messages,
    _tool_name,
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
        legacy_functions=body.get("tools") is None and body.get("functions") is not None,
        extra=_parse_extra(body),
    )

