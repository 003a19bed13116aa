"""POST /embeddings through the openai SDK and LangChain against the emulator's deterministic
vectors: Titan v1/v2 and Cohere v3, batching, input order, base64 and float."""

from __future__ import annotations

import math

import aiohttp
import openai
import pytest

from bedrock_gateway.emulator.script import embedding_vector
from tests.conftest import TEST_KEY

TITAN_V1 = "amazon.titan-embed-text-v1"
TITAN_V2 = "amazon.titan-embed-text-v2:0"
COHERE_EN = "cohere.embed-english-v3"
COHERE_ML = "cohere.embed-multilingual-v3"


def close(actual: list[float], expected: list[float]) -> bool:
    return len(actual) == len(expected) and all(
        math.isclose(a, e, rel_tol=1e-5, abs_tol=1e-6) for a, e in zip(actual, expected))


def invoke_calls(stats: dict) -> int:
    return sum(1 for r in stats["recent"] if r["operation"] == "invoke")


@pytest.mark.parametrize("encoding", ["base64", "float"])
async def test_cohere_batches_of_96_in_input_order(client, emulator, encoding):
    texts = [f"passage number {i}" for i in range(250)]
    kwargs = {} if encoding == "base64" else {"encoding_format": "float"}
    result = await client.embeddings.create(model=COHERE_EN, input=texts, **kwargs)
    assert [d.index for d in result.data] == list(range(250))
    for text, item in zip(texts, result.data):
        assert close(item.embedding, embedding_vector(text, 1024, True))
    assert invoke_calls(await emulator.stats()) == 3  # 96 + 96 + 58
    assert result.usage.prompt_tokens > 0
    assert result.model == COHERE_EN


async def test_cohere_multilingual_input_type_and_truncate(client):
    result = await client.embeddings.create(
        model=COHERE_ML, input="une phrase", extra_body={"input_type": "search_query",
                                                         "truncate": "END"})
    assert close(result.data[0].embedding, embedding_vector("une phrase", 1024, True))


async def test_titan_v1_one_call_per_text_order_kept(client, emulator):
    texts = [f"text {i}" for i in range(20)]
    result = await client.embeddings.create(model=TITAN_V1, input=texts)
    assert invoke_calls(await emulator.stats()) == 20
    for text, item in zip(texts, result.data):
        assert close(item.embedding, embedding_vector(text, 1536, False))


@pytest.mark.parametrize("dimensions", [256, 512, 1024])
async def test_titan_v2_dimensions_normalized(client, dimensions):
    result = await client.embeddings.create(model=TITAN_V2, input="hello world",
                                            dimensions=dimensions)
    vector = result.data[0].embedding
    assert len(vector) == dimensions
    assert math.isclose(math.sqrt(sum(v * v for v in vector)), 1.0, rel_tol=1e-4)
    assert close(vector, embedding_vector("hello world", dimensions, True))
    assert result.usage.prompt_tokens == 2


async def test_token_id_input_is_a_clear_400(client):
    with pytest.raises(openai.BadRequestError) as info:
        await client.embeddings.create(model=COHERE_EN, input=[[1, 2, 3]])
    assert info.value.body["param"] == "input"


async def test_chat_model_and_bad_dimensions_are_400(client):
    with pytest.raises(openai.BadRequestError) as info:
        await client.embeddings.create(model="anthropic.claude-3-haiku-20240307-v1:0",
                                       input="x")
    assert info.value.body["param"] == "model"
    with pytest.raises(openai.BadRequestError) as info:
        await client.embeddings.create(model=TITAN_V2, input="x", dimensions=300)
    assert info.value.body["param"] == "dimensions"


async def test_default_embedding_model_when_none_is_named(make_gateway):
    gateway = await make_gateway(default_embedding_model=COHERE_EN)
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{gateway.base_url}/embeddings",
                                headers={"Authorization": f"Bearer {TEST_KEY}"},
                                json={"input": "no model here"}) as response:
            assert response.status == 200
            body = await response.json()
    assert body["model"] == COHERE_EN
    assert close(body["data"][0]["embedding"], embedding_vector("no model here", 1024, True))


async def test_langchain_openai_embeddings(gateway):
    from langchain_openai import OpenAIEmbeddings

    embeddings = OpenAIEmbeddings(model=COHERE_EN, base_url=gateway.base_url, api_key=TEST_KEY,
                                  check_embedding_ctx_length=False, max_retries=0)
    documents = await embeddings.aembed_documents(["first doc", "second doc"])
    query = await embeddings.aembed_query("a question")
    assert close(documents[0], embedding_vector("first doc", 1024, True))
    assert close(documents[1], embedding_vector("second doc", 1024, True))
    assert close(query, embedding_vector("a question", 1024, True))
