"""OpenAI /v1/embeddings <-> Bedrock InvokeModel bodies for Titan and Cohere embedding models.

Pure functions: parse and validate the OpenAI request, plan the InvokeModel bodies (one text per
call for Titan, batches for Cohere), read the model's answers back and build OpenAI's response.
The caller does the calls, in parallel if it likes; each `Invocation` says which inputs it covers.
"""

from __future__ import annotations

import base64
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from bedrock_gateway.errors import InvalidRequestError, UpstreamError
from bedrock_gateway.conversation.model_ids import base_model_id

Family = Literal["titan_v1", "titan_v2", "cohere_v3"]
EncodingFormat = Literal["float", "base64"]

MAX_INPUTS = 2048  # OpenAI's own limit per request; keeps one request's fan-out bounded
COHERE_BATCH = 96  # Cohere on Bedrock takes at most 96 texts per call
_COHERE_INPUT_TYPES = ("search_document", "search_query", "classification", "clustering")
_TRUNCATE = ("NONE", "START", "END")
# The dimensions each family can return; None = the family's default.
_DIMENSIONS: Mapping[Family, tuple[int, ...]] = MappingProxyType({
    "titan_v1": (1536,), "titan_v2": (256, 512, 1024), "cohere_v3": (1024,)})
_FAMILIES: tuple[tuple[re.Pattern[str], Family], ...] = (
    (re.compile(r"amazon\.titan-embed-text-v2(:\w+)*"), "titan_v2"),
    (re.compile(r"amazon\.titan-embed-(text-v1|g1-text-02)(:\w+)*"), "titan_v1"),
    (re.compile(r"cohere\.embed-(english|multilingual)-v3(:\w+)*"), "cohere_v3"),
)


@dataclass(frozen=True, slots=True)
class EmbeddingsRequest:
    model: str
    inputs: tuple[str, ...]
    encoding_format: EncodingFormat = "float"
    dimensions: int | None = None
    input_type: str | None = None  # Cohere's input_type (extension field); Titan ignores it
    truncate: str | None = None  # Cohere's truncate: NONE | START | END
    user: str | None = None


@dataclass(frozen=True, slots=True)
class Invocation:
    body: dict[str, Any]  # the InvokeModel JSON body
    indexes: tuple[int, ...]  # positions in the request's inputs, in the order of the body


def _invalid(message: str, param: str) -> InvalidRequestError:
    return InvalidRequestError(message, param=param)


def parse_embeddings_request(body: object) -> EmbeddingsRequest:
    """Validate an OpenAI embeddings request body (already JSON-decoded)."""
    if not isinstance(body, dict):
        raise _invalid("The request body must be a JSON object.", "body")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _invalid("'model' is required and must be a non-empty string.", "model")
    inputs = _parse_input(body.get("input"))

    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise _invalid(f"encoding_format must be 'float' or 'base64', not {encoding!r}.",
                       "encoding_format")
    dimensions = body.get("dimensions")
    if dimensions is not None and (
            not isinstance(dimensions, int) or isinstance(dimensions, bool) or dimensions < 1):
        raise _invalid("dimensions must be a positive integer.", "dimensions")
    input_type = body.get("input_type")
    if input_type is not None and input_type not in _COHERE_INPUT_TYPES:
        raise _invalid(f"input_type must be one of {', '.join(_COHERE_INPUT_TYPES)}.", "input_type")
    truncate = body.get("truncate")
    if truncate is not None:
        truncate = truncate.upper() if isinstance(truncate, str) else truncate
        if truncate not in _TRUNCATE:
            raise _invalid("truncate must be one of NONE, START, END.", "truncate")
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise _invalid("user must be a string.", "user")

    request = EmbeddingsRequest(model, inputs, encoding, dimensions, input_type, truncate, user)
    family = family_for(model)
    if family is not None:  # an alias is checked later, in plan_invocations, once resolved
        _check_dimensions(request, family)
    return request


def _parse_input(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        items: list[object] = [value]
    elif isinstance(value, list):
        items = value
    else:
        raise _invalid("input must be a string or a list of strings.", "input")
    if not items:
        raise _invalid("input must not be an empty list.", "input")
    if all(_is_int(i) for i in items) or any(
            isinstance(i, list) and i and all(_is_int(t) for t in i) for i in items):
        # OpenAI accepts token ids from its own tokenizer; Bedrock models take text only.
        raise _invalid("Token-id input (lists of integers) is not supported: Bedrock embedding "
                       "models take text. Send the input as a string or a list of strings.",
                       "input")
    if len(items) > MAX_INPUTS:
        raise _invalid(f"input may hold at most {MAX_INPUTS} strings.", "input")
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise _invalid(f"input[{index}] must be a string.", "input")
        if not item:
            raise _invalid(f"input[{index}] must not be an empty string.", "input")
    return tuple(items)  # type: ignore[arg-type]  # every item was checked to be a str


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def family_for(model_id: str) -> Family | None:
    """The request/response format of an embedding model id, profile id or ARN; None when not
    known for sure (an application profile's ARN says nothing: pass its base model id)."""
    base = base_model_id(model_id)
    if base is None:
        return None
    for pattern, family in _FAMILIES:
        if pattern.fullmatch(base):
            return family
    return None


def _check_dimensions(req: EmbeddingsRequest, family: Family) -> None:
    allowed = _DIMENSIONS[family]
    if req.dimensions is not None and req.dimensions not in allowed:
        raise _invalid(f"dimensions={req.dimensions} is not supported by {req.model}; "
                       f"use one of {', '.join(map(str, allowed))}.", "dimensions")


def plan_invocations(req: EmbeddingsRequest, family: Family | None) -> list[Invocation]:
    """The InvokeModel bodies that embed every input of `req`, covering each index once."""
    if family is None:
        raise _invalid(f"The model '{req.model}' is not a supported embedding model.", "model")
    _check_dimensions(req, family)
    if family == "cohere_v3":
        return [
            Invocation({"texts": list(req.inputs[start:start + COHERE_BATCH]),
                        "input_type": req.input_type or "search_document",
                        "truncate": req.truncate or "END",
                        "embedding_types": ["float"]},
                       tuple(range(start, min(start + COHERE_BATCH, len(req.inputs)))))
            for start in range(0, len(req.inputs), COHERE_BATCH)]
    if family == "titan_v2":
        extra = {"dimensions": req.dimensions or 1024, "normalize": True, "embeddingTypes": ["float"]}
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
    return count if _is_int(count) else None


def assemble_vectors(invocations: Sequence[Invocation],
                     results: Sequence[Sequence[list[float]]]) -> list[list[float]]:
    """Put each invocation's vectors back at its inputs' positions."""
    if len(invocations) != len(results):
        raise ValueError("one result per invocation is required")
    slots: dict[int, list[float]] = {}
    for invocation, vectors in zip(invocations, results):
        if len(vectors) != len(invocation.indexes):
            raise UpstreamError(f"Amazon Bedrock returned {len(vectors)} embeddings for "
                                f"{len(invocation.indexes)} inputs.")
        slots.update(zip(invocation.indexes, vectors))
    if sorted(slots) != list(range(len(slots))):
        raise ValueError("invocations do not cover the inputs exactly once")
    return [slots[i] for i in range(len(slots))]


def encode_base64(vector: Sequence[float]) -> str:
    """Little-endian float32, base64: what the openai SDK decodes with numpy.frombuffer."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def build_embeddings_response(model: str, vectors_in_input_order: Sequence[Sequence[float]],
                              prompt_tokens: int, encoding_format: EncodingFormat) -> dict:
    """OpenAI's embeddings response."""
    data = [{"object": "embedding", "index": index,
             "embedding": encode_base64(v) if encoding_format == "base64" else list(v)}
            for index, v in enumerate(vectors_in_input_order)]
    return {"object": "list", "data": data, "model": model,
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}}
