"""POST /embeddings through the openai SDK and LangChain against the emulator's deterministic
vectors: Titan v1/v2 and Cohere v3, batching, input order, base64 and float, usage, errors.

Expected vectors come from `embedding_vector(text, dims, normalize)`, called the way the emulator
calls it per family (emulator/emulated_embeddings.py): Titan v1 (text, 1536, False); Titan v2 (text,
dimensions, normalize as sent); Cohere v3 (text, 1024, True). Token counts are the emulator's
whitespace word counts. The SDK asks for base64 by default (float32 on the wire), hence the
tolerance.
"""

from __future__ import annotations

import asyncio
import math

import aiohttp
import openai
import pytest

from bedrock_gateway.emulator.script import embedding_vector
from tests.support.constants import HAIKU, TEST_KEY

TITAN_V1 = "amazon.titan-embed-text-v1"
TITAN_V2 = "amazon.titan-embed-text-v2:0"
COHERE_EN = "cohere.embed-english-v3"
COHERE_ML = "cohere.embed-multilingual-v3"
ENCODINGS = ["base64", "float"]


def close(actual, expected: list[float]) -> bool:
    return len(actual) == len(expected) and all(
        math.isclose(a, e, rel_tol=1e-5, abs_tol=1e-6)
        for a, e in zip(actual, expected, strict=True))


def cohere(text: str) -> list[float]:
    return embedding_vector(text, 1024, True)


def invokes(stats: dict) -> list[dict]:
    return [r for r in stats["recent"] if r["operation"] == "invoke"]


def words(texts: list[str]) -> int:
    return sum(len(t.split()) for t in texts)


def encoding_kwargs(encoding: str) -> dict:
    # The SDK's default is base64 (it decodes it); "float" asks for JSON numbers.
    return {} if encoding == "base64" else {"encoding_format": "float"}


async def raw_post(gateway, body: dict) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session, session.post(
            f"{gateway.base_url}/embeddings", json=body,
            headers={"Authorization": f"Bearer {TEST_KEY}"}) as response:
        return response.status, await response.json()


# --- Cohere v3 --------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_cohere_batches_of_96_in_input_order(client, emulator, encoding):
    texts = [f"passage number {i}" for i in range(250)]
    result = await client.embeddings.create(model=COHERE_EN, input=texts,
                                            **encoding_kwargs(encoding))
    assert [d.index for d in result.data] == list(range(250))
    for text, item in zip(texts, result.data, strict=True):
        assert close(item.embedding, cohere(text)), text
    calls = invokes(await emulator.stats())
    assert len(calls) == 3  # 96 + 96 + 58
    assert {c["model"] for c in calls} == {COHERE_EN}
    assert result.usage.prompt_tokens == words(texts) == 750  # Bedrock's counts, summed
    assert result.usage.total_tokens == 750
    assert result.model == COHERE_EN


async def test_cohere_batches_keep_order_when_texts_repeat_across_batches(client):
    # Identical texts land in different batches; each position still gets its own text's vector.
    texts = [f"t{i % 7}" for i in range(200)]
    result = await client.embeddings.create(model=COHERE_EN, input=texts)
    assert all(close(item.embedding, cohere(text))
               for text, item in zip(texts, result.data, strict=True))


@pytest.mark.parametrize("model", [COHERE_EN, COHERE_ML])
@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_cohere_single_string_and_list_with_input_type_and_truncate(
        client, model, encoding):
    one = await client.embeddings.create(
        model=model, input="une phrase courte", **encoding_kwargs(encoding),
        extra_body={"input_type": "search_query", "truncate": "END"})
    assert len(one.data) == 1 and one.data[0].index == 0
    assert close(one.data[0].embedding, cohere("une phrase courte"))
    assert one.usage.prompt_tokens == 3
    # truncate is case-insensitive on our side; Bedrock takes only NONE | START | END.
    many = await client.embeddings.create(
        model=model, input=["erste", "zweite Zeile"], **encoding_kwargs(encoding),
        extra_body={"input_type": "search_document", "truncate": "start"})
    assert [close(d.embedding, cohere(t))
            for d, t in zip(many.data, ["erste", "zweite Zeile"], strict=True)] == [True, True]
    assert many.usage.prompt_tokens == 3


async def test_cohere_rejects_an_unknown_input_type_before_calling_bedrock(client, emulator):
    with pytest.raises(openai.BadRequestError) as info:
        await client.embeddings.create(model=COHERE_EN, input="x",
                                       extra_body={"input_type": "search_everything"})
    assert info.value.body["param"] == "input_type"
    assert invokes(await emulator.stats()) == []


# --- Titan ------------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_titan_v1_one_call_per_text_order_kept(client, emulator, encoding):
    texts = [f"text number {i}" for i in range(20)]
    result = await client.embeddings.create(model=TITAN_V1, input=texts,
                                            **encoding_kwargs(encoding))
    assert len(invokes(await emulator.stats())) == 20
    assert [d.index for d in result.data] == list(range(20))
    for text, item in zip(texts, result.data, strict=True):
        assert len(item.embedding) == 1536
        assert close(item.embedding, embedding_vector(text, 1536, False)), text
    assert result.usage.prompt_tokens == words(texts) == 60


@pytest.mark.parametrize("dimensions", [256, 512, 1024])
@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_titan_v2_dimensions_normalized(client, dimensions, encoding):
    result = await client.embeddings.create(model=TITAN_V2, input="hello world",
                                            dimensions=dimensions, **encoding_kwargs(encoding))
    vector = result.data[0].embedding
    assert len(vector) == dimensions
    assert math.isclose(math.sqrt(sum(v * v for v in vector)), 1.0, rel_tol=1e-4)
    assert close(vector, embedding_vector("hello world", dimensions, True))
    assert result.usage.prompt_tokens == 2


async def test_titan_v2_without_dimensions_is_1024_and_a_list_keeps_order(client, emulator):
    texts = ["alpha", "beta gamma", "delta epsilon zeta"]
    result = await client.embeddings.create(model=TITAN_V2, input=texts)
    assert [len(d.embedding) for d in result.data] == [1024] * 3
    assert all(close(d.embedding, embedding_vector(t, 1024, True))
               for d, t in zip(result.data, texts, strict=True))
    assert result.usage.prompt_tokens == 6
    assert len(invokes(await emulator.stats())) == 3


# --- errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize("tokens", [[1, 2, 3], [[1, 2, 3], [4, 5]]])
async def test_token_id_input_is_a_clear_400(client, emulator, tokens):
    with pytest.raises(openai.BadRequestError) as info:
        await client.embeddings.create(model=COHERE_EN, input=tokens)
    assert info.value.body["param"] == "input"
    assert "token" in info.value.body["message"].lower()
    assert invokes(await emulator.stats()) == []


async def test_chat_model_unknown_model_and_bad_dimensions(client, emulator):
    with pytest.raises(openai.BadRequestError) as info:
        await client.embeddings.create(model=HAIKU, input="x")
    assert info.value.body["param"] == "model"
    assert HAIKU in info.value.body["message"]
    with pytest.raises(openai.NotFoundError) as info:
        await client.embeddings.create(model="amazon.titan-embed-text-v9", input="x")
    assert info.value.body["code"] == "model_not_found"
    assert "amazon.titan-embed-text-v9" in info.value.body["message"]
    with pytest.raises(openai.BadRequestError) as info:
        await client.embeddings.create(model=TITAN_V2, input="x", dimensions=300)
    assert info.value.body["param"] == "dimensions"
    with pytest.raises(openai.BadRequestError) as info:
        await client.embeddings.create(model=COHERE_EN, input=["ok", ""])
    assert info.value.body["param"] == "input"
    assert invokes(await emulator.stats()) == []  # all refused before Bedrock


async def test_default_embedding_model_when_none_is_named(make_gateway, emulator):
    gateway = await make_gateway(default_embedding_model=COHERE_EN)
    status, body = await raw_post(gateway, {"input": "no model here"})
    assert status == 200
    assert body["model"] == COHERE_EN
    assert body["data"][0]["object"] == "embedding"
    assert close(body["data"][0]["embedding"], cohere("no model here"))  # float by default
    assert body["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    assert [c["model"] for c in invokes(await emulator.stats())] == [COHERE_EN]


async def test_built_in_default_embedding_model_when_none_is_named(gateway, emulator):
    # No DEFAULT_EMBEDDING_MODEL set: the built-in default (Cohere Multilingual v3) serves.
    assert gateway.settings.default_embedding_model == COHERE_ML
    status, body = await raw_post(gateway, {"input": ["zwei Wörter", "x"],
                                            "encoding_format": "float"})
    assert status == 200
    assert body["model"] == COHERE_ML
    assert [close(d["embedding"], cohere(t))
            for d, t in zip(body["data"], ["zwei Wörter", "x"], strict=True)] == [True, True]
    assert body["usage"]["prompt_tokens"] == 3
    assert [c["model"] for c in invokes(await emulator.stats())] == [COHERE_ML]


async def test_throttled_region_fails_over_for_embeddings(make_gateway, emulator):
    gateway = await make_gateway(bedrock_regions=("us-east-1", "us-west-2"))
    await emulator.add_fault(region="us-east-1", operation="invoke", error="ThrottlingException")
    async with gateway.client() as client:
        result = await client.embeddings.create(model=COHERE_EN, input=["a", "b"])
    assert [close(d.embedding, cohere(t))
            for d, t in zip(result.data, "ab", strict=True)] == [True, True]
    assert [c["region"] for c in invokes(await emulator.stats())] == ["us-east-1", "us-west-2"]


# --- LangChain --------------------------------------------------------------------------------

def langchain_embeddings(gateway, model: str, **kwargs):
    from langchain_openai import OpenAIEmbeddings
    from pydantic import SecretStr

    # check_embedding_ctx_length=False sends the texts as they are: with it on, LangChain first
    # tokenizes with tiktoken (or, with tiktoken_enabled=False, a HuggingFace tokenizer it
    # downloads) and sends token ids, which no Bedrock model takes.
    return OpenAIEmbeddings(model=model, base_url=gateway.base_url, api_key=SecretStr(TEST_KEY),
                            check_embedding_ctx_length=False, max_retries=0, **kwargs)


async def test_langchain_openai_embeddings_async(gateway):
    embeddings = langchain_embeddings(gateway, COHERE_EN)
    documents = await embeddings.aembed_documents(["first doc", "second doc"])
    query = await embeddings.aembed_query("a question")
    assert len(documents) == 2
    assert close(documents[0], cohere("first doc"))
    assert close(documents[1], cohere("second doc"))
    assert close(query, cohere("a question"))


async def test_langchain_openai_embeddings_sync_with_chunks_and_dimensions(gateway, emulator):
    # The sync client blocks, so it runs in a thread while this loop serves the gateway.
    embeddings = langchain_embeddings(gateway, TITAN_V2, dimensions=256, chunk_size=2)
    texts = ["one", "two words", "three little words"]
    documents = await asyncio.to_thread(embeddings.embed_documents, texts)
    query = await asyncio.to_thread(embeddings.embed_query, "what is it")
    assert [len(d) for d in documents] == [256, 256, 256]
    assert all(close(d, embedding_vector(t, 256, True))
               for d, t in zip(documents, texts, strict=True))
    assert close(query, embedding_vector("what is it", 256, True))
    assert len(invokes(await emulator.stats())) == 4  # Titan: one call per text
