"""Tools, tool_choice and response_format -> toolConfig, outputConfig and extra instructions.

Decisions (see docs/parameters.md):
- tool_choice "none": the client's tools are not sent, and tool history is rendered as text
  (Bedrock requires a toolConfig whenever toolUse/toolResult blocks appear; leaving tools out is
  the only way to be sure the model calls none).
- Forcing a call (`required`, a named function, the structured-output tool) uses toolChoice
  any/tool where the model supports it and thinking is off (Anthropic refuses forced tool choice
  with thinking); otherwise toolChoice stays auto and a system instruction asks for the call.
- response_format json_schema: native `outputConfig` when the model and the installed botocore
  have it; else a synthetic tool whose input schema is the response schema (its input becomes
  the message content); else, for models without tools, an instruction carrying the schema.
  With the client's own tools and tool_choice auto, the synthetic tool joins them and the model
  must call one of them (any): a real tool, or the answer tool.
- response_format json_object: a system instruction (works on every model and streams as text).
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from bedrock_gateway.errors import InvalidRequestError
from bedrock_gateway.protocols.openai_chat import ChatRequest, ResponseFormat, ToolChoice
from bedrock_gateway.conversation.capabilities import ModelCapabilities

JSON_OBJECT_INSTRUCTION = (
    "Respond with a single valid JSON object and nothing else: no prose, no code fences.")
STRUCTURED_TOOL_FALLBACK_NAME = "structured_output"


@dataclass(frozen=True, slots=True)
class ToolPlan:
    tool_config: dict | None  # Converse `toolConfig`, without cache points
    output_config: dict | None  # Converse `outputConfig`
    structured_tool: str | None  # synthetic tool whose input is the answer
    tools_as_text: bool  # render tool history as text (no client tools are sent)
    instructions: tuple[str, ...]  # system text the gateway adds


def _tool_spec(name: str, description: str | None, schema: dict, strict: bool) -> dict:
    spec: dict = {"name": name, "inputSchema": {"json": schema}}
    if description:  # Bedrock rejects an empty description
        spec["description"] = description
    if strict:
        spec["strict"] = True
    return {"toolSpec": spec}


def _structured_tool_name(fmt: ResponseFormat, taken: set[str]) -> str:
    name = fmt.name or STRUCTURED_TOOL_FALLBACK_NAME
    while name in taken:
        name = f"{name}_answer"[-64:]
    return name


def _schema_instruction(fmt: ResponseFormat) -> str:
    schema = orjson.dumps(fmt.schema).decode()
    return (f"Respond with a single valid JSON value that conforms to this JSON schema, and "
            f"nothing else: {schema}")


def plan_tools(req: ChatRequest, caps: ModelCapabilities, *, thinking: bool,
               native_available: bool) -> ToolPlan:
    choice = req.tool_choice or ToolChoice("auto")
    mode = choice.mode
    send_tools = bool(req.tools) and mode != "none"
    if send_tools and not caps.tools:
        raise InvalidRequestError("This model does not support tool use.", param="tools",
                                  code="unsupported_parameter")
    strict_ok = caps.native_structured_output and native_available
    specs = [_tool_spec(t.name, t.description, t.parameters, t.strict and strict_ok)
             for t in req.tools] if send_tools else []
    can_force = caps.tool_choice_any and not thinking
    instructions: list[str] = []
    output_config = None
    structured_tool = None
    forced: dict | None = None

    fmt = req.response_format
    if fmt is not None and fmt.type == "json_object":
        instructions.append(JSON_OBJECT_INSTRUCTION)
    elif fmt is not None and fmt.type == "json_schema":
        if strict_ok:
            structure: dict = {"schema": orjson.dumps(fmt.schema).decode(), "name": fmt.name}
            if fmt.description:
                structure["description"] = fmt.description
            output_config = {"textFormat": {"type": "json_schema",
                                            "structure": {"jsonSchema": structure}}}
        elif caps.tools and not (send_tools and mode in ("required", "function")):
            # (a call the client forces this turn comes first; the schema binds a later answer)
            assert fmt.schema is not None  # the request parsers give json_schema one
            structured_tool = _structured_tool_name(fmt, {t.name for t in req.tools})
            specs.append(_tool_spec(structured_tool, fmt.description or
                                    "Give the final answer as this tool's input.", fmt.schema,
                                    False))
            if send_tools:
                # The model must tell the answer tool from the real ones: always say which.
                forced = {"any": {}}
                instructions.append(f"When you are ready to answer, call the tool "
                                    f"`{structured_tool}` with the answer instead of replying "
                                    f"in text.")
            else:
                forced = {"tool": {"name": structured_tool}}
                if not can_force:
                    instructions.append(f"Answer by calling the tool `{structured_tool}`.")
        else:
            instructions.append(_schema_instruction(fmt))

    if send_tools and forced is None and mode in ("required", "function"):
        if mode == "required":
            forced = {"any": {}}
            hint = "You must call at least one of the provided tools."
        else:
            forced = {"tool": {"name": choice.name}}
            hint = f"You must call the tool `{choice.name}`."
        if not can_force:
            instructions.append(hint)

    tool_config: dict | None = None
    if specs:
        tool_config = {"tools": specs}
        if forced is not None and can_force:
            tool_config["toolChoice"] = forced
        # tool_choice auto is Bedrock's default: omitted, since some models reject toolChoice.
    return ToolPlan(tool_config, output_config, structured_tool, not send_tools,
                    tuple(instructions))
