"""A validated OpenAI chat request -> the Converse / ConverseStream call.

`chat_to_converse` decides thinking and the tool plan once, assembles the parts
(chat_converse_messages.py, chat_tools.py) and adds inference settings, cache points, guardrails
and the Bedrock pass-through fields. Its `ConverseCall` carries the kwargs and the one decision
the answer depends on: the name of the synthetic structured-output tool, if any, whose input
becomes the content. The chat completions handler wraps it in a `ChatPlan` (chat_plan.py); the
Responses API uses it as is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from bedrock_gateway.conversation.capabilities import ModelCapabilities
from bedrock_gateway.conversation.reasoning_budgets import thinking_for_effort
from bedrock_gateway.protocols.openai_chat.chat_converse_messages import build_conversation
from bedrock_gateway.protocols.openai_chat.chat_tools import plan_tools
from bedrock_gateway.protocols.openai_chat.chat_types import ChatRequest

__all__ = ["ConverseCall", "TranslateOptions", "chat_to_converse", "thinking_config"]

_DEFAULT_BUDGETS = MappingProxyType({"low": 1024, "medium": 4096, "high": 16384})
# Room for the answer after the thinking budget when the client set no max_tokens.
THINKING_ANSWER_TOKENS = 4096
_CACHE_POINT = {"type": "default"}


@dataclass(frozen=True)
class TranslateOptions:
    """The operator's translation settings: built once at start (server/gateway_app.py)."""

    prompt_caching: bool = False
    guardrail_identifier: str | None = None
    guardrail_version: str | None = None
    reasoning_budgets: Mapping[str, int] = field(default_factory=lambda: _DEFAULT_BUDGETS)
    native_structured_output_available: bool = True  # False when botocore lacks outputConfig
    default_max_tokens: int | None = None  # DEFAULT_MAX_TOKENS: when the client sets none


def _in_tool_loop(req: ChatRequest) -> bool:
    """True when an assistant tool call came after the last real user message: Anthropic then
    wants that turn's signed thinking block back, which OpenAI clients never keep."""
    for message in reversed(req.messages):
        if message.role == "user":
            return False
        if message.role == "assistant" and message.tool_calls:
            return True
    return False


def thinking_config(req: ChatRequest, caps: ModelCapabilities,
                    options: TranslateOptions) -> dict | None:
    """The `thinking` field for additionalModelRequestFields, or None.

    An explicit `thinking` (top level or inside additionalModelRequestFields) is passed as given.
    `reasoning_effort` turns thinking on only for models with caps.reasoning, and not in the
    middle of a tool loop (see `_in_tool_loop`); "none" turns it off.
    """
    explicit = req.extra.thinking
    if explicit is None and req.extra.additional_model_request_fields:
        explicit = req.extra.additional_model_request_fields.get("thinking")
    if explicit is not None:
        return explicit if isinstance(explicit, dict) else None
    if not caps.reasoning or _in_tool_loop(req):
        return None
    return thinking_for_effort(req.reasoning_effort, options.reasoning_budgets)


def _thinking_on(thinking: dict | None) -> bool:
    return thinking is not None and thinking.get("type") in ("enabled", "adaptive")


def _inference_config(req: ChatRequest, thinking: dict | None,
                      default_max_tokens: int | None = None) -> dict:
    config: dict = {}
    max_tokens = req.max_tokens if req.max_tokens is not None else default_max_tokens
    thinking_on = _thinking_on(thinking)
    budget = thinking.get("budget_tokens") if thinking is not None and thinking_on else None
    if isinstance(budget, int) and not isinstance(budget, bool):
        # Anthropic needs max_tokens > budget_tokens; keep the client's number for the answer.
        if max_tokens is None:
            max_tokens = budget + THINKING_ANSWER_TOKENS
        elif max_tokens <= budget:
            max_tokens += budget
    if max_tokens is not None:
        config["maxTokens"] = max_tokens
    if req.temperature is not None:
        # Thinking allows only the default temperature; Converse's range is 0-1 (OpenAI's 0-2).
        config["temperature"] = 1.0 if thinking_on else min(req.temperature, 1.0)
    if req.top_p is not None and not thinking_on:  # thinking rejects top_p changes
        config["topP"] = req.top_p
    if req.stop:
        config["stopSequences"] = list(req.stop)
    return config


def _additional_fields(req: ChatRequest, thinking: dict | None) -> dict:
    fields = dict(req.extra.additional_model_request_fields or {})
    if thinking is not None:
        fields["thinking"] = thinking
    if req.extra.top_k is not None and not _thinking_on(thinking):
        fields["top_k"] = req.extra.top_k
    return fields


def _guardrail(req: ChatRequest, options: TranslateOptions) -> dict | None:
    """The operator's guardrail wins over the client's (a client must not swap out a guardrail
    the operator imposed); the client may still set its other fields, e.g. `trace`."""
    config = dict(req.extra.guardrail_config or {})
    if options.guardrail_identifier:
        config["guardrailIdentifier"] = options.guardrail_identifier
        config["guardrailVersion"] = options.guardrail_version or "DRAFT"
    return config or None


@dataclass(frozen=True, slots=True)
class ConverseCall:
    kwargs: dict[str, Any]  # for `client.converse(**kw)` / `client.converse_stream(**kw)`
    structured_tool: str | None  # synthetic tool whose input is the answer (json_schema)


def chat_to_converse(req: ChatRequest, *, model_id: str, caps: ModelCapabilities,
                     options: TranslateOptions,
                     fetched_images: Mapping[str, tuple[bytes, str]] = MappingProxyType({}),
                     ) -> ConverseCall:
    """The Converse call for `req`; thinking and the tool plan are decided once, here."""
    thinking = thinking_config(req, caps, options)
    plan = plan_tools(req, caps, thinking=_thinking_on(thinking),
                      native_available=options.native_structured_output_available)
    system, messages = build_conversation(req, caps, fetched_images=fetched_images,
                                          tools_as_text=plan.tools_as_text,
                                          extra_system=list(plan.instructions))
    caching = req.extra.prompt_caching
    caching = (options.prompt_caching if caching is None else caching) and caps.prompt_caching

    kwargs: dict[str, Any] = {"modelId": model_id, "messages": messages}
    if system:
        kwargs["system"] = system + [{"cachePoint": dict(_CACHE_POINT)}] if caching else system
    if plan.tool_config is not None:
        tool_config = plan.tool_config
        if caching:
            tool_config["tools"].append({"cachePoint": dict(_CACHE_POINT)})
        kwargs["toolConfig"] = tool_config
    if caching:
        for message in reversed(messages):
            if message["role"] == "user":
                message["content"].append({"cachePoint": dict(_CACHE_POINT)})
                break
    inference = _inference_config(req, thinking, options.default_max_tokens)
    if inference:
        kwargs["inferenceConfig"] = inference
    fields = _additional_fields(req, thinking)
    if fields:
        kwargs["additionalModelRequestFields"] = fields
    if plan.output_config is not None:
        kwargs["outputConfig"] = plan.output_config
    guardrail = _guardrail(req, options)
    if guardrail is not None:
        kwargs["guardrailConfig"] = guardrail
    if req.extra.performance_config is not None:
        kwargs["performanceConfig"] = dict(req.extra.performance_config)
    if req.extra.request_metadata is not None:
        kwargs["requestMetadata"] = dict(req.extra.request_metadata)
    return ConverseCall(kwargs, plan.structured_tool)
