"""The OpenAI embeddings request, validated at the edge, and the model families it can go to.

`parse_embeddings_request` is the only way in. `family_for` names the request/response format of
an embedding model (Titan v1, Titan v2, Cohere v3) from its id, profile id or ARN; the dimensions
a family can return are checked here too, as soon as the model is known.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from bedrock_gateway.conversation.model_ids import base_model_id
from bedrock_gateway.errors import InvalidRequestError

Family = Literal["titan_v1", "titan_v2", "cohere_v3"]
EncodingFormat = Literal["float", "base64"]

MAX_INPUTS = 2048  # OpenAI's own limit per request; keeps one request's fan-out bounded
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


def invalid_request(message: str, param: str) -> InvalidRequestError:
    """A 400 naming the request field `param`."""
    return InvalidRequestError(message, param=param)


def parse_embeddings_request(body: object) -> EmbeddingsRequest:
    """Validate an OpenAI embeddings request body (already JSON-decoded)."""
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object.", "body")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid_request("'model' is required and must be a non-empty string.", "model")
    inputs = _parse_input(body.get("input"))

    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise invalid_request(f"encoding_format must be 'float' or 'base64', not {encoding!r}.",
                              "encoding_format")
    dimensions = body.get("dimensions")
    if dimensions is not None and (
            not isinstance(dimensions, int) or isinstance(dimensions, bool) or dimensions < 1):
        raise invalid_request("dimensions must be a positive integer.", "dimensions")
    input_type = body.get("input_type")
    if input_type is not None and input_type not in _COHERE_INPUT_TYPES:
        raise invalid_request(f"input_type must be one of {', '.join(_COHERE_INPUT_TYPES)}.",
                              "input_type")
    truncate = body.get("truncate")
    if truncate is not None:
        truncate = truncate.upper() if isinstance(truncate, str) else truncate
        if truncate not in _TRUNCATE:
            raise invalid_request("truncate must be one of NONE, START, END.", "truncate")
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise invalid_request("user must be a string.", "user")

    encoding_format: EncodingFormat = "base64" if encoding == "base64" else "float"
    request = EmbeddingsRequest(model, inputs, encoding_format, dimensions, input_type, truncate,
                                user)
    family = family_for(model)
    if family is not None:  # an alias is checked later, in plan_invocations, once resolved
        check_dimensions(request, family)
    return request


def _parse_input(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        items: list[object] = [value]
    elif isinstance(value, list):
        items = value
    else:
        raise invalid_request("input must be a string or a list of strings.", "input")
    if not items:
        raise invalid_request("input must not be an empty list.", "input")
    if all(_is_int(i) for i in items) or any(
            isinstance(i, list) and i and all(_is_int(t) for t in i) for i in items):
        # OpenAI accepts token ids from its own tokenizer; Bedrock models take text only.
        raise invalid_request("Token-id input (lists of integers) is not supported: Bedrock "
                              "embedding models take text. Send the input as a string or a list "
                              "of strings.", "input")
    if len(items) > MAX_INPUTS:
        raise invalid_request(f"input may hold at most {MAX_INPUTS} strings.", "input")
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise invalid_request(f"input[{index}] must be a string.", "input")
        if not item:
            raise invalid_request(f"input[{index}] must not be an empty string.", "input")
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


def check_dimensions(req: EmbeddingsRequest, family: Family) -> None:
    """`req.dimensions`, if set, must be one the family returns."""
    allowed = _DIMENSIONS[family]
    if req.dimensions is not None and req.dimensions not in allowed:
        raise invalid_request(f"dimensions={req.dimensions} is not supported by {req.model}; "
                              f"use one of {', '.join(map(str, allowed))}.", "dimensions")

