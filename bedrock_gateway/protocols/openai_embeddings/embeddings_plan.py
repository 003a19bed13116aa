"""One embeddings request, planned once: `plan_embeddings` turns the parsed request and the
resolved model into an `EmbeddingsPlan` holding the InvokeModel calls that embed every input;
the plan reads each call's answer (body bytes and header values, as plain data) and builds the
OpenAI response from all of them. The server only makes the calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import orjson

from bedrock_gateway.protocols.openai_embeddings.embeddings_bodies import (
    Invocation,
    assemble_vectors,
    plan_invocations,
    read_answer,
)
from bedrock_gateway.protocols.openai_embeddings.embeddings_request import (
    EmbeddingsRequest,
    EncodingFormat,
    Family,
    family_for,
)
from bedrock_gateway.protocols.openai_embeddings.embeddings_response import (
    build_embeddings_response,
)

# One call's answer: the vectors in the order of its texts, and its input tokens.
Answer = tuple[list[list[float]], int]


@dataclass(frozen=True, slots=True)
class EmbeddingsPlan:
    model: str  # the model name the client asked for: echoed in the response
    model_id: str  # the Bedrock id or profile the calls name
    family: Family
    invocations: tuple[Invocation, ...]
    encoding_format: EncodingFormat

    def invoke_kwargs(self, invocation: Invocation) -> dict[str, Any]:
        """kwargs for `client.invoke_model(**kw)`."""
        return {"modelId": self.model_id, "body": orjson.dumps(invocation.body),
                "contentType": "application/json", "accept": "application/json"}

    def read_answer(self, body: bytes, headers: Mapping[str, str]) -> Answer:
        """One call's answer from its body bytes and its HTTP headers (lower-case names)."""
        return read_answer(self.family, body, headers)

    def response(self, answers: Sequence[Answer]) -> dict[str, Any]:
        """OpenAI's response from every call's answer, in the order of `invocations`."""
        vectors = assemble_vectors(self.invocations, [vectors for vectors, _ in answers])
        prompt_tokens = sum(tokens for _, tokens in answers)
        return build_embeddings_response(self.model, vectors, prompt_tokens,
                                         self.encoding_format)


def plan_embeddings(req: EmbeddingsRequest, *, model_id: str,
                    base_model_id: str | None = None) -> EmbeddingsPlan:
    """The calls that embed `req` with `model_id` (its format from `base_model_id` when the
    id alone does not say, e.g. an application inference profile's ARN)."""
    family = family_for(base_model_id or model_id)
    invocations = tuple(plan_invocations(req, family))  # no known family: a 400, raised there
    return EmbeddingsPlan(req.model, model_id, cast(Family, family), invocations,
                          req.encoding_format)
