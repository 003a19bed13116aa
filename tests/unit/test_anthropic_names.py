"""Anthropic's model names for Bedrock's Claude ids, the model-list shape, and the count_tokens
estimate used where Bedrock cannot count."""

from __future__ import annotations

from bedrock_gateway.protocols.anthropic_messages import (
    anthropic_names,
    estimate_input_tokens,
    model_list,
)

IDS = ["anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic.claude-3-5-sonnet-20240620-v1:0",
       "anthropic.claude-3-5-sonnet-20241022-v2:0", "anthropic.claude-sonnet-4-20250514-v1:0",
       "anthropic.claude-v2:1", "amazon.nova-lite-v1:0", "meta.llama3-1-8b-instruct-v1:0"]


def test_dated_undated_latest_and_zero_forms() -> None:
    names = anthropic_names(IDS)
    assert names["claude-sonnet-4-5-20250929"] == names["claude-sonnet-4-5"] == \
        names["claude-sonnet-4-5-latest"] == "anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert names["claude-sonnet-4-0"] == names["claude-sonnet-4"] == \
        "anthropic.claude-sonnet-4-20250514-v1:0"
    # Two dates of one model: the dated names stay apart, the undated one is the newest.
    assert names["claude-3-5-sonnet-20240620"] == "anthropic.claude-3-5-sonnet-20240620-v1:0"
    assert names["claude-3-5-sonnet"] == "anthropic.claude-3-5-sonnet-20241022-v2:0"
    # Claude 2 (legacy, Anthropic's `claude-2.1`) keeps its Bedrock id only.
    assert "anthropic.claude-v2:1" not in names.values()
    assert not any(base.startswith(("amazon.", "meta.")) for base in names.values())


def test_model_list_shape() -> None:
    page = model_list([("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", 1759104000)])
    assert page == {"data": [{"type": "model", "id": "claude-sonnet-4-5-20250929",
                              "display_name": "Claude Sonnet 4.5",
                              "created_at": "2025-09-29T00:00:00Z"}],
                    "has_more": False, "first_id": "claude-sonnet-4-5-20250929",
                    "last_id": "claude-sonnet-4-5-20250929"}
    assert model_list([]) == {"data": [], "has_more": False, "first_id": None, "last_id": None}


def test_estimate_counts_text_and_media() -> None:
    body = {"system": "x" * 40, "messages": [
        {"role": "user", "content": "y" * 40},
        {"role": "user", "content": [{"type": "image", "source": {}},
                                     {"type": "tool_result", "tool_use_id": "t",
                                      "content": "z" * 8}]}]}
    assert estimate_input_tokens(body) == 10 + 10 + 1600 + 2
    assert estimate_input_tokens({"messages": [{"role": "user", "content": ""}]}) == 1
