"""The chat plan: one object per request that carries the Converse kwargs and every decision the
answer depends on, and makes both kinds of answer (tests/fixtures/chat covers the kwargs)."""

from __future__ import annotations

import pytest

from bedrock_gateway.conversation.capabilities import capabilities_for
from bedrock_gateway.errors import InvalidRequestError
from bedrock_gateway.protocols.openai_chat import parse_chat_request
from bedrock_gateway.protocols.openai_chat.chat_converse import TranslateOptions
from bedrock_gateway.protocols.openai_chat.chat_plan import ChatPlan, plan_chat

CLAUDE = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}},
          "required": ["answer"]}
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


def plan_for(body: dict, *, options: TranslateOptions | None = None) -> ChatPlan:
    return plan_chat(parse_chat_request(body), model_id=CLAUDE, caps=capabilities_for(CLAUDE),
                     options=options or TranslateOptions(), model_name="my-alias",
                     completion_id="chatcmpl-plan", created=1700000000)


def tool_use_events(name: str, fragment: str) -> list[dict]:
    return [{"messageStart": {"role": "assistant"}},
            {"contentBlockStart": {"start": {"toolUse": {"toolUseId": "t1", "name": name}},
                                   "contentBlockIndex": 0}},
            {"contentBlockDelta": {"delta": {"toolUse": {"input": fragment}},
                                   "contentBlockIndex": 0}},
            {"contentBlockStop": {"contentBlockIndex": 0}},
            {"messageStop": {"stopReason": "tool_use"}},
            {"metadata": {"usage": {"inputTokens": 5, "outputTokens": 7}}}]


def tool_use_response(name: str, value: dict) -> dict:
    return {"output": {"message": {"role": "assistant", "content": [
                {"toolUse": {"toolUseId": "t1", "name": name, "input": value}}]}},
            "stopReason": "tool_use", "usage": {"inputTokens": 5, "outputTokens": 7}}


def streamed(plan: ChatPlan, events: list[dict]) -> list[dict]:
    translator = plan.stream_translator()
    chunks = [chunk for event in events for chunk in translator.feed(event)]
    return chunks + translator.finish()


def test_structured_tool_decided_once_drives_both_answers() -> None:
    plan = plan_for({"messages": [{"role": "user", "content": "Capital of France?"}],
                     "response_format": {"type": "json_schema",
                                         "json_schema": {"name": "answer", "schema": SCHEMA}}},
                    options=TranslateOptions(native_structured_output_available=False))
    assert plan.structured_tool == "answer"
    tool_names = [t["toolSpec"]["name"] for t in plan.converse_kwargs["toolConfig"]["tools"]]
    assert tool_names == ["answer"]

    message = plan.response(tool_use_response("answer", {"answer": "Paris"}))["choices"][0]
    assert message["message"]["content"] == '{"answer":"Paris"}'
    assert "tool_calls" not in message["message"]
    assert message["finish_reason"] == "stop"

    chunks = streamed(plan, tool_use_events("answer", '{"answer":"Paris"}'))
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert content == '{"answer":"Paris"}'
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_legacy_functions_answer_with_function_call() -> None:
    plan = plan_for({"messages": [{"role": "user", "content": "Weather in Paris?"}],
                     "functions": [{"name": "weather", "parameters": {"type": "object"}}]})
    assert plan.legacy_functions
    choice = plan.response(tool_use_response("weather", {"city": "Paris"}))["choices"][0]
    assert choice["message"]["function_call"] == {"name": "weather",
                                                  "arguments": '{"city":"Paris"}'}
    assert choice["finish_reason"] == "function_call"

    chunks = streamed(plan, tool_use_events("weather", '{"city":"Paris"}'))
    calls = [c["choices"][0]["delta"]["function_call"] for c in chunks
             if "function_call" in c["choices"][0]["delta"]]
    assert calls[0] == {"name": "weather", "arguments": ""}
    assert "".join(c["arguments"] for c in calls) == '{"city":"Paris"}'
    assert chunks[-1]["choices"][0]["finish_reason"] == "function_call"


@pytest.mark.parametrize("include_usage", [True, False])
def test_include_usage_decides_the_last_chunk(include_usage: bool) -> None:
    body: dict = {"messages": [{"role": "user", "content": "Hi"}], "stream": True}
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    plan = plan_for(body)
    assert plan.stream and plan.include_usage is include_usage
    chunks = streamed(plan, [{"messageStart": {"role": "assistant"}},
                             {"contentBlockDelta": {"delta": {"text": "Hello"},
                                                    "contentBlockIndex": 0}},
                             {"messageStop": {"stopReason": "end_turn"}},
                             {"metadata": {"usage": {"inputTokens": 3, "outputTokens": 1}}}])
    usage_chunks = [c for c in chunks if not c["choices"]]
    if include_usage:
        assert usage_chunks == [{"id": "chatcmpl-plan", "object": "chat.completion.chunk",
                                 "created": 1700000000, "model": "my-alias", "choices": [],
                                 "usage": {"prompt_tokens": 3, "completion_tokens": 1,
                                           "total_tokens": 4,
                                           "prompt_tokens_details": {"cached_tokens": 0,
                                                                     "cache_write_tokens": 0}}}]
    else:
        assert usage_chunks == []


def test_answers_carry_the_plans_identity_and_echoed_name() -> None:
    plan = plan_for({"model": "my-alias", "messages": [{"role": "user", "content": "Hi"}]})
    answer = plan.response({"output": {"message": {"content": [{"text": "Hello"}]}},
                            "stopReason": "end_turn"})
    assert (answer["id"], answer["object"], answer["created"], answer["model"]) == (
        "chatcmpl-plan", "chat.completion", 1700000000, "my-alias")
    chunks = streamed(plan, [{"messageStart": {"role": "assistant"}}])
    assert {(c["id"], c["created"], c["model"]) for c in chunks} == {
        ("chatcmpl-plan", 1700000000, "my-alias")}


def test_plans_get_their_own_ids_unless_given() -> None:
    req = parse_chat_request({"messages": [{"role": "user", "content": "Hi"}]})
    first, second = (plan_chat(req, model_id=CLAUDE, caps=capabilities_for(CLAUDE),
                               options=TranslateOptions()) for _ in range(2))
    assert first.completion_id.startswith("chatcmpl-") and first.completion_id != \
        second.completion_id
    assert first.model == CLAUDE  # no name in the request: the id it was sent to


def test_remote_images_are_named_then_attached() -> None:
    url = "https://example.com/cat.png"
    plan = plan_for({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is it?"},
        {"type": "image_url", "image_url": {"url": url}}]}]})
    assert plan.remote_images() == {url: "messages[0].content[1].image_url.url"}
    plan.attach_images({url: (PNG, "png")})
    assert plan.remote_images() == {}
    image = plan.converse_kwargs["messages"][0]["content"][1]["image"]
    assert image["format"] == "png" and image["source"]["bytes"] == PNG


def test_an_image_left_unfetched_is_a_400_naming_it() -> None:
    url = "https://example.com/cat.png"
    plan = plan_for({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": url}}]}]})
    with pytest.raises(InvalidRequestError) as caught:
        plan.attach_images({})
    assert caught.value.param == "messages[0].content[0].image_url.url"
