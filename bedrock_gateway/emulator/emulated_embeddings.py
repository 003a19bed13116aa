"""Embedding models through InvokeModel: Titan Text v1, Titan Text v2, Cohere Embed v3.

Pure: `embed(model_id, body) -> (response body, input tokens)`, raising `EmulatorError` with the
wording Bedrock uses for malformed bodies. Vectors come from `script.embedding_vector`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from bedrock_gateway.emulator.emulated_errors import validation
from bedrock_gateway.emulator.script import count_tokens, embedding_vector

TITAN_V1_DIMS = 1024 + 512
TITAN_V2_DIMS = (256, 512, 1024)
COHERE_DIMS = 1024
COHERE_MAX_TEXTS = 96
COHERE_INPUT_TYPES = ("search_document", "search_query", "classification", "clustering")
COHERE_TYPES = ("float", "int8", "uint8", "binary", "ubinary")


def family(model_id: str) -> str | None:
    if model_id.startswith("amazon.titan-embed-text-v2"):
        return "titan_v2"
    if model_id.startswith(("amazon.titan-embed-text-v1", "amazon.titan-embed-g1-text")):
        return "titan_v1"
    if model_id.startswith("cohere.embed-") and "v3" in model_id:
        return "cohere_v3"
    return None


def _malformed(detail: str) -> Exception:
    return validation(f"Malformed input request: {detail}, please reformat your input and try "
                      "again.")


def _check_keys(body: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for key in body:
        if key not in allowed:
            raise _malformed(f"#: extraneous key [{key}] is not permitted")


def _input_text(body: Mapping[str, Any]) -> str:
    text = body.get("inputText")
    if not isinstance(text, str):
        raise _malformed("#: required key [inputText] not found")
    if not text:
        raise _malformed("#/inputText: expected minLength: 1, actual: 0")
    return text


def embed(model_id: str, body: Any) -> tuple[dict[str, Any], int]:
    if not isinstance(body, Mapping):
        raise _malformed("#: expected type: JSONObject")
    kind = family(model_id)
    if kind == "titan_v1":
        _check_keys(body, ("inputText",))
        text = _input_text(body)
        tokens = count_tokens(text)
        return {"embedding": embedding_vector(text, TITAN_V1_DIMS, False),
                "inputTextTokenCount": tokens}, tokens
    if kind == "titan_v2":
        return _titan_v2(body)
    if kind == "cohere_v3":
        return _cohere_v3(body)
    raise validation("The provided model doesn't support embeddings.")


def _titan_v2(body: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    _check_keys(body, ("inputText", "dimensions", "normalize", "embeddingTypes"))
    text = _input_text(body)
    dims = body.get("dimensions", 1024)
    if dims not in TITAN_V2_DIMS:
        raise _malformed(f"#/dimensions: {dims} is not a valid enum value")
    normalize = body.get("normalize", True)
    if not isinstance(normalize, bool):
        raise _malformed("#/normalize: expected type: Boolean")
    types = body.get("embeddingTypes", ["float"])
    if not isinstance(types, list) or not types or any(t not in ("float", "binary")
                                                       for t in types):
        raise _malformed("#/embeddingTypes: expected a non-empty subset of [float, binary]")
    vector = embedding_vector(text, dims, normalize)
    by_type: dict[str, Any] = {}
    if "float" in types:
        by_type["float"] = vector
    if "binary" in types:
        by_type["binary"] = [1 if v > 0 else 0 for v in vector]
    tokens = count_tokens(text)
    response: dict[str, Any] = {"embedding": vector, "inputTextTokenCount": tokens,
                                "embeddingsByType": by_type}
    return response, tokens


def _cohere_v3(body: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    _check_keys(body, ("texts", "input_type", "truncate", "embedding_types", "images"))
    texts = body.get("texts")
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise _malformed("#: required key [texts] not found")
    if len(texts) > COHERE_MAX_TEXTS:
        raise _malformed(f"#/texts: expected maxItems: {COHERE_MAX_TEXTS}, "
                         f"actual: {len(texts)}")
    if body.get("input_type") not in COHERE_INPUT_TYPES:
        if "input_type" not in body:
            raise _malformed("#: required key [input_type] not found")
        raise _malformed(f"#/input_type: {body['input_type']} is not a valid enum value")
    if body.get("truncate", "NONE") not in ("NONE", "START", "END"):
        raise _malformed(f"#/truncate: {body['truncate']} is not a valid enum value")
    types = body.get("embedding_types")
    if types is not None and (not isinstance(types, list)
                              or any(t not in COHERE_TYPES for t in types)):
        raise _malformed("#/embedding_types: expected a subset of [" + ", ".join(COHERE_TYPES)
                         + "]")
    vectors = [embedding_vector(t, COHERE_DIMS, True) for t in texts]
    tokens = sum(count_tokens(t) for t in texts)
    response: dict[str, Any] = {"id": str(uuid.uuid4()), "texts": texts}
    if types is None:
        response.update(embeddings=vectors, response_type="embeddings_floats")
    else:
        response.update(embeddings={t: [_quantize(v, t) for v in vectors] for t in types},
                        response_type="embeddings_by_type")
    return response, tokens


def _quantize(vector: list[float], kind: str) -> list[Any]:
    if kind == "float":
        return vector
    peak = max((abs(v) for v in vector), default=1.0) or 1.0
    if kind == "int8":
        return [round(v / peak * 127) for v in vector]
    if kind == "uint8":
        return [round((v / peak + 1) * 127.5) for v in vector]
    packed = []
    for i in range(0, len(vector), 8):
        byte = 0
        for v in vector[i:i + 8]:
            byte = (byte << 1) | (1 if v > 0 else 0)
        packed.append(byte - 128 if kind == "binary" else byte)
    return packed
