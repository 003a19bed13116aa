"""What each Bedrock model family can do, as far as the translation needs to know.

The table is keyed by base model id prefixes (`base_model_id` in model_ids.py: geography prefixes
of inference profiles, `us.`, `eu.`, `apac.`, `global.`, ..., are stripped, and ARNs of models
and system-defined profiles read). Opaque ARNs (application inference profiles,
provisioned throughput, custom models) get the conservative default: no optional features that
Bedrock would reject (forced tool choice, thinking, cache points, outputConfig), while images,
documents and tools are passed on and left for Bedrock to judge.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bedrock_gateway.conversation.model_ids import base_model_id


@dataclass(frozen=True, slots=True)
class ModelCapabilities:
    tools: bool = True
    tool_choice_any: bool = False  # toolChoice `any` / `tool` (forcing a call)
    reasoning: bool = False  # Anthropic-style `thinking` in additionalModelRequestFields
    prompt_caching: bool = False  # cachePoint blocks
    native_structured_output: bool = False  # outputConfig.textFormat json_schema
    images: bool = True
    documents: bool = True
    system_prompt: bool = True


DEFAULT = ModelCapabilities()
_TEXT_ONLY = ModelCapabilities(images=False, documents=False)
_CLAUDE_3 = ModelCapabilities(tool_choice_any=True)
_CLAUDE_CACHING = replace(_CLAUDE_3, prompt_caching=True)
_CLAUDE_REASONING = replace(_CLAUDE_CACHING, reasoning=True)
_CLAUDE_STRUCTURED = replace(_CLAUDE_REASONING, native_structured_output=True)
_NOVA = ModelCapabilities(tool_choice_any=True, prompt_caching=True)
_OPEN_STRUCTURED = ModelCapabilities(native_structured_output=True, images=False)

# First matching prefix wins: more specific prefixes come first.
_FAMILIES: tuple[tuple[str, ModelCapabilities], ...] = (
    ("anthropic.claude-sonnet-4-5", _CLAUDE_STRUCTURED),
    ("anthropic.claude-sonnet-4-6", _CLAUDE_STRUCTURED),
    ("anthropic.claude-haiku-4-5", _CLAUDE_STRUCTURED),
    ("anthropic.claude-opus-4-5", _CLAUDE_STRUCTURED),
    ("anthropic.claude-opus-4-6", _CLAUDE_STRUCTURED),
    ("anthropic.claude-sonnet-4", _CLAUDE_REASONING),
    ("anthropic.claude-opus-4", _CLAUDE_REASONING),
    ("anthropic.claude-3-7-sonnet", _CLAUDE_REASONING),
    ("anthropic.claude-3-5-haiku", replace(_CLAUDE_CACHING, images=False)),
    ("anthropic.claude-3", _CLAUDE_3),
    ("anthropic.claude", replace(_TEXT_ONLY, tools=False)),  # Claude 2 / Instant
    ("amazon.nova-micro", replace(_NOVA, images=False, documents=False)),
    ("amazon.nova", _NOVA),
    ("amazon.titan-text", replace(_TEXT_ONLY, tools=False, system_prompt=False)),
    ("meta.llama3-2-11b", ModelCapabilities()),
    ("meta.llama3-2-90b", ModelCapabilities()),
    ("meta.llama4", ModelCapabilities()),
    ("meta.llama3-1", _TEXT_ONLY),
    ("meta.llama3-2", _TEXT_ONLY),
    ("meta.llama3-3", _TEXT_ONLY),
    ("meta.llama", replace(_TEXT_ONLY, tools=False)),  # Llama 2 and 3.0: no tool use
    ("mistral.pixtral", ModelCapabilities(tool_choice_any=True)),
    ("mistral.mistral-large", ModelCapabilities(tool_choice_any=True, images=False)),
    ("mistral.mistral-7b", replace(_TEXT_ONLY, tools=False, system_prompt=False)),
    ("mistral.mixtral", replace(_TEXT_ONLY, tools=False, system_prompt=False)),
    ("cohere.command-r", ModelCapabilities(images=False)),
    ("cohere.command", replace(_TEXT_ONLY, tools=False)),
    ("ai21.jamba", ModelCapabilities(images=False)),
    ("deepseek.r1", replace(_TEXT_ONLY, tools=False)),
    ("deepseek.", _OPEN_STRUCTURED),
    ("openai.gpt-oss", _OPEN_STRUCTURED),
    ("qwen.", _OPEN_STRUCTURED),
    ("moonshot", _OPEN_STRUCTURED),
    ("minimax.", _OPEN_STRUCTURED),
)


def capabilities_for(model_id: str) -> ModelCapabilities:
    base = base_model_id(model_id)
    if base is None:
        return DEFAULT
    for prefix, caps in _FAMILIES:
        if base.startswith(prefix):
            return caps
    return DEFAULT
