"""Model id -> capabilities: region prefixes, ARNs and the family table."""

from __future__ import annotations

import pytest

from bedrock_gateway.conversation.capabilities import DEFAULT, capabilities_for
from bedrock_gateway.conversation.model_ids import base_model_id

# (model id, expected base id or None, {capability: expected})
CASES = [
    ("anthropic.claude-3-5-sonnet-20241022-v2:0", "anthropic.claude-3-5-sonnet-20241022-v2:0",
     {"tools": True, "tool_choice_any": True, "reasoning": False, "prompt_caching": False}),
    ("us.anthropic.claude-3-7-sonnet-20250219-v1:0", "anthropic.claude-3-7-sonnet-20250219-v1:0",
     {"reasoning": True, "prompt_caching": True, "native_structured_output": False}),
    ("eu.anthropic.claude-sonnet-4-20250514-v1:0", "anthropic.claude-sonnet-4-20250514-v1:0",
     {"reasoning": True, "prompt_caching": True, "native_structured_output": False}),
    ("apac.anthropic.claude-opus-4-1-20250805-v1:0", "anthropic.claude-opus-4-1-20250805-v1:0",
     {"reasoning": True}),
    ("global.anthropic.claude-sonnet-4-5-20250929-v1:0",
     "anthropic.claude-sonnet-4-5-20250929-v1:0",
     {"reasoning": True, "native_structured_output": True}),
    ("global.anthropic.claude-haiku-4-5-20251001-v1:0", "anthropic.claude-haiku-4-5-20251001-v1:0",
     {"native_structured_output": True, "images": True}),
    ("anthropic.claude-3-5-haiku-20241022-v1:0", None, {"images": False, "prompt_caching": True}),
    ("anthropic.claude-v2:1", None, {"tools": False, "images": False}),
    ("us.amazon.nova-pro-v1:0", "amazon.nova-pro-v1:0",
     {"tool_choice_any": True, "prompt_caching": True, "images": True, "reasoning": False}),
    ("amazon.nova-micro-v1:0", None, {"images": False, "documents": False}),
    ("amazon.titan-text-express-v1", None, {"tools": False, "system_prompt": False}),
    ("us.meta.llama3-2-90b-instruct-v1:0", None, {"images": True, "tool_choice_any": False}),
    ("meta.llama3-1-8b-instruct-v1:0", None, {"tools": True, "images": False}),
    ("meta.llama3-8b-instruct-v1:0", None, {"tools": False}),
    ("mistral.mistral-7b-instruct-v0:2", None, {"tools": False, "system_prompt": False}),
    ("mistral.mistral-large-2407-v1:0", None, {"tool_choice_any": True, "images": False}),
    ("openai.gpt-oss-120b-1:0", None, {"native_structured_output": True, "reasoning": False}),
    ("us.deepseek.r1-v1:0", "deepseek.r1-v1:0", {"tools": False}),
    ("arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-7-sonnet-20250219-v1:0",
     "anthropic.claude-3-7-sonnet-20250219-v1:0", {"reasoning": True}),
    ("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-lite-v1:0",
     "amazon.nova-lite-v1:0", {"tool_choice_any": True}),
    ("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3", "-", {}),
    ("arn:aws:bedrock:us-east-1:123456789012:provisioned-model/xyz", "-", {}),
    ("some.future-model-v9:0", None, {}),
]


@pytest.mark.parametrize(("model_id", "base", "expected"), CASES, ids=[c[0] for c in CASES])
def test_capabilities(model_id: str, base: str | None, expected: dict) -> None:
    caps = capabilities_for(model_id)
    if base == "-":  # opaque ARN: conservative default
        assert base_model_id(model_id) is None
        assert caps == DEFAULT
    elif base is not None:
        assert base_model_id(model_id) == base
    for name, value in expected.items():
        assert getattr(caps, name) is value, name
    if not expected and base != "-":
        assert caps == DEFAULT


def test_default_is_conservative() -> None:
    assert not (DEFAULT.tool_choice_any or DEFAULT.reasoning or DEFAULT.prompt_caching
                or DEFAULT.native_structured_output)
    assert DEFAULT.tools and DEFAULT.images and DEFAULT.documents and DEFAULT.system_prompt
