"""Bedrock InvokeModel bodies for Titan and Cohere embedding models, both ways: the bodies that
embed a request's inputs (one text per call for Titan, batches for Cohere) and the vectors and
token counts read back from the answers. Pure: the caller makes the calls (in parallel if it
likes) and hands back each answer's body bytes and header values as plain data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from bedrock_gateway.errors import UpstreamError
from bedrock_gateway.protocols.openai_embeddings.embeddings_request import (
    EmbeddingsRequest,
    Family,
    check_dimensions,
    invalid_request,
)

COHERE_BATCH = 96  # Cohere on Bedrock takes at most 96 texts per call
# Cohere reports its input tokens only in this InvokeModel response header (Titan: in the body).
INPUT_TOKENS_HEADER = "x-amzn-bedrock-input-token-count"


@dataclass(frozen=True, slots=True)
class Invocation:
    body: dict[str, Any]  # the InvokeModel JSON body
    indexes: tuple[int, ...]  # positions in the request's inputs, in the order of the body


def plan_invocations(req: EmbeddingsRequest, family: Family | None) -> list[Invocation]:
    """The InvokeModel bodies that embed every input of `req`, covering each index once."""
    if family is None:
        raise invalid_request(f"The model '{req.model}' is not a supported embedding model.",
                              "model")
    check_dimensions(req, family)
    if family == "cohere_v3":
        return [
            Invocation({"texts": list(req.inputs[start:start + COHERE_BATCH]),
                        "input_type": req.input_type or "search_document",
                        "truncate": req.truncate or "END",
                        "embedding_types": ["float"]},
                       tuple(range(start, min(start + COHERE_BATCH, len(req.inputs)))))
            for start in range(0, len(req.inputs), COHERE_BATCH)]
    if family == "titan_v2":
        extra = {"dimensions": req.dimensions or 1024, "normalize": True,
                 "embeddingTypes": ["float"]}
    else:
        extra = {}  # Titan v1 takes the text and nothing else
    return [Invocation({"inputText": text, **extra}, (index,))
            for index, text in enumerate(req.inputs)]


def parse_invocation_result(family: Family, body: Mapping[str, Any]) -> list[list[float]]:
    """The vectors in one InvokeModel answer, in the order of the texts sent."""
    if family == "cohere_v3":
        vectors = body.get("embeddings")
        if isinstance(vectors, Mapping):  # response_type "embeddings_by_type"
            vectors = vectors.get("float")
    else:
        by_type = body.get("embeddingsByType")
        vectors = by_type.get("float") if isinstance(by_type, Mapping) else None
        vectors = [vectors if vectors is not None else body.get("embedding")]
    if not isinstance(vectors, list) or not all(_is_vector(v) for v in vectors):
        raise UpstreamError("Amazon Bedrock returned embeddings in an unexpected shape.")
    return vectors


def _is_vector(value: object) -> bool:
    # Checks the shape, not each of the ~1,000 numbers: a per-element check cost more CPU than
    # the whole rest of an embeddings request (measured in `make bench`).
    return (isinstance(value, list) and bool(value)
            and type(value[0]) in (float, int) and type(value[-1]) in (float, int))


def input_tokens_of(family: Family, body: Mapping[str, Any]) -> int | None:
    """Input tokens reported in the body (Titan); Cohere reports them only in the response header
    X-Amzn-Bedrock-Input-Token-Count."""
    count = body.get("inputTextTokenCount") if family != "cohere_v3" else None
    return count if isinstance(count, int) and not isinstance(count, bool) else None


def _header_count(value: str | None) -> int:
    try:
        return int(value) if value else 0
    except ValueError:
        return 0


def read_answer(family: Family, body: bytes,
                headers: Mapping[str, str]) -> tuple[list[list[float]], int]:
    """(vectors, input tokens) of one InvokeModel answer: its body bytes and its HTTP headers
    (lower-case names, as botocore gives them). The body's count wins over the header's."""
    try:
        result = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise UpstreamError("Amazon Bedrock returned an unreadable embedding.") from None
    if not isinstance(result, dict):
        raise UpstreamError("Amazon Bedrock returned embeddings in an unexpected shape.")
    tokens = input_tokens_of(family, result)
    if tokens is None:
        tokens = _header_count(headers.get(INPUT_TOKENS_HEADER))
    return parse_invocation_result(family, result), tokens


def assemble_vectors(invocations: Sequence[Invocation],
                     results: Sequence[Sequence[list[float]]]) -> list[list[float]]:
    """Put each invocation's vectors back at its inputs' positions."""
    if len(invocations) != len(results):
        raise ValueError("one result per invocation is required")
    slots: dict[int, list[float]] = {}
    for invocation, vectors in zip(invocations, results, strict=True):
        if len(vectors) != len(invocation.indexes):
            raise UpstreamError(f"Amazon Bedrock returned {len(vectors)} embeddings for "
                                f"{len(invocation.indexes)} inputs.")
        slots.update(zip(invocation.indexes, vectors, strict=True))
    if sorted(slots) != list(range(len(slots))):
        raise ValueError("invocations do not cover the inputs exactly once")
    return [slots[i] for i in range(len(slots))]
