"""InvokeModel: embeddings (Titan v1/v2, Cohere v3), native text bodies, image, streaming."""

from __future__ import annotations

import base64
import json
import math

import pytest

from bedrock_gateway.emulator.script import embedding_vector, reply_text
from tests.support.constants import HAIKU


def norm(vector):
    return math.sqrt(sum(v * v for v in vector))


async def invoke(runtime, model, body):
    response = await runtime.invoke_model(modelId=model, body=json.dumps(body).encode(),
                                          contentType="application/json")
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    return json.loads(await response["body"].read()), headers


async def test_titan_v1(runtime):
    body, headers = await invoke(runtime, "amazon.titan-embed-text-v1",
                                 {"inputText": "hello big world"})
    assert len(body["embedding"]) == 1536
    assert body["embedding"] == embedding_vector("hello big world", 1536, False)
    assert body["inputTextTokenCount"] == 3
    assert headers["x-amzn-bedrock-input-token-count"] == "3"
    assert headers["x-amzn-bedrock-output-token-count"] == "0"
    assert int(headers["x-amzn-bedrock-invocation-latency"]) >= 1
    with pytest.raises(runtime.exceptions.ValidationException) as caught:
        await invoke(runtime, "amazon.titan-embed-text-v1", {"inputText": "x", "dimensions": 256})
    assert "extraneous key [dimensions]" in caught.value.response["Error"]["Message"]


async def test_titan_v2(runtime):
    body, headers = await invoke(runtime, "amazon.titan-embed-text-v2:0", {"inputText": "hi"})
    assert len(body["embedding"]) == 1024
    assert math.isclose(norm(body["embedding"]), 1.0, rel_tol=1e-9)
    assert body["embeddingsByType"] == {"float": body["embedding"]}
    assert headers["x-amzn-bedrock-input-token-count"] == "1"
    body, _ = await invoke(runtime, "amazon.titan-embed-text-v2:0", {
        "inputText": "hi", "dimensions": 256, "normalize": False,
        "embeddingTypes": ["float", "binary"]})
    assert len(body["embedding"]) == 256 and not math.isclose(norm(body["embedding"]), 1.0)
    assert body["embedding"] == embedding_vector("hi", 256, False)
    assert set(body["embeddingsByType"]["binary"]) <= {0, 1}
    assert len(body["embeddingsByType"]["binary"]) == 256
    body, _ = await invoke(runtime, "amazon.titan-embed-text-v2:0",
                           {"inputText": "hi", "dimensions": 512})
    assert len(body["embedding"]) == 512
    for bad in ({"inputText": "hi", "dimensions": 100}, {"inputText": ""}, {},
                {"inputText": "hi", "texts": ["x"]}):
        with pytest.raises(runtime.exceptions.ValidationException):
            await invoke(runtime, "amazon.titan-embed-text-v2:0", bad)


async def test_cohere_v3(runtime):
    body, headers = await invoke(runtime, "cohere.embed-english-v3", {
        "texts": ["alpha beta", "gamma"], "input_type": "search_document", "truncate": "END"})
    assert body["response_type"] == "embeddings_floats"
    assert body["texts"] == ["alpha beta", "gamma"] and body["id"]
    assert [len(v) for v in body["embeddings"]] == [1024, 1024]
    assert math.isclose(norm(body["embeddings"][0]), 1.0, rel_tol=1e-9)
    assert headers["x-amzn-bedrock-input-token-count"] == "3"
    body, _ = await invoke(runtime, "cohere.embed-multilingual-v3", {
        "texts": ["a"], "input_type": "search_query", "embedding_types": ["float", "int8"]})
    assert body["response_type"] == "embeddings_by_type"
    assert set(body["embeddings"]) == {"float", "int8"}
    assert all(-128 <= v <= 127 for v in body["embeddings"]["int8"][0])
    body, _ = await invoke(runtime, "cohere.embed-english-v3",
                           {"texts": ["t"] * 96, "input_type": "clustering"})
    assert len(body["embeddings"]) == 96
    with pytest.raises(runtime.exceptions.ValidationException) as caught:
        await invoke(runtime, "cohere.embed-english-v3",
                     {"texts": ["t"] * 97, "input_type": "clustering"})
    assert "maxItems: 96" in caught.value.response["Error"]["Message"]
    with pytest.raises(runtime.exceptions.ValidationException) as caught:
        await invoke(runtime, "cohere.embed-english-v3", {"texts": ["t"]})
    assert "input_type" in caught.value.response["Error"]["Message"]


async def test_embedding_models_do_not_stream(runtime):
    with pytest.raises(runtime.exceptions.ValidationException):
        await runtime.invoke_model_with_response_stream(
            modelId="amazon.titan-embed-text-v2:0", body=b'{"inputText": "x"}')


ANTHROPIC = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100,
             "system": "be nice", "messages": [{"role": "user", "content": "tell me more"}]}


async def test_anthropic_invoke(runtime):
    body, headers = await invoke(runtime, HAIKU, ANTHROPIC)
    assert body["type"] == "message" and body["role"] == "assistant"
    assert body["content"] == [{"type": "text", "text": reply_text("tell me more", 8)}]
    assert body["stop_reason"] == "end_turn"
    assert body["usage"] == {"input_tokens": 5, "output_tokens": 8,
                             "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    assert headers["x-amzn-bedrock-output-token-count"] == "8"
    body, _ = await invoke(runtime, HAIKU, {**ANTHROPIC, "max_tokens": 2})
    assert body["stop_reason"] == "max_tokens"
    with pytest.raises(runtime.exceptions.ValidationException):
        await invoke(runtime, HAIKU, {"messages": ANTHROPIC["messages"]})


async def test_anthropic_invoke_stream(runtime):
    request = {**ANTHROPIC, "messages": [{"role": "user", "content": [
        {"type": "text", "text": 'go [[emu tool=lookup:{"q": "x"} text_before=Sure]]'}]}]}
    response = await runtime.invoke_model_with_response_stream(
        modelId=HAIKU, body=json.dumps(request).encode())
    chunks = [json.loads(e["chunk"]["bytes"]) async for e in response["body"]]
    kinds = [c["type"] for c in chunks]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    text = "".join(c["delta"].get("text", "") for c in chunks if c["type"] ==
                   "content_block_delta")
    assert text == "Sure"
    tool_start = [c for c in chunks if c["type"] == "content_block_start"][1]
    assert tool_start["content_block"]["name"] == "lookup"
    partial = "".join(c["delta"].get("partial_json", "") for c in chunks
                      if c["type"] == "content_block_delta")
    assert json.loads(partial) == {"q": "x"}
    assert chunks[-2]["delta"]["stop_reason"] == "tool_use"
    assert chunks[-1]["amazon-bedrock-invocationMetrics"]["outputTokenCount"] == \
        chunks[-2]["usage"]["output_tokens"]


@pytest.mark.parametrize(("model", "request_", "field"), [
    ("amazon.nova-lite-v1:0", {"schemaVersion": "messages-v1", "messages": [
        {"role": "user", "content": [{"text": "a b"}]}], "inferenceConfig": {"maxTokens": 3}},
     lambda b: b["output"]["message"]["content"][0]["text"]),
    ("meta.llama3-1-8b-instruct-v1:0", {"prompt": "a b", "max_gen_len": 3},
     lambda b: b["generation"]),
    ("us.deepseek.r1-v1:0", {"prompt": "a b", "max_tokens": 3},
     lambda b: b["choices"][0]["text"]),
])
async def test_other_native_bodies(runtime, model, request_, field):
    body, _ = await invoke(runtime, model, request_)
    assert field(body) == "Echo: a b"
    response = await runtime.invoke_model_with_response_stream(
        modelId=model, body=json.dumps(request_).encode())
    chunks = [json.loads(e["chunk"]["bytes"]) async for e in response["body"]]
    assert "amazon-bedrock-invocationMetrics" in chunks[-1]


async def test_image_model(make_client):
    west = await make_client(region="us-west-2")
    body, _ = await invoke(west, "stability.sd3-5-large-v1:0", {"prompt": "a cat"})
    assert base64.b64decode(body["images"][0]).startswith(b"\x89PNG")
