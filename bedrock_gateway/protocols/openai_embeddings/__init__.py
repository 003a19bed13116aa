"""The OpenAI embeddings API (`POST /embeddings`) as a client protocol over Bedrock InvokeModel
(Titan and Cohere embedding models). Pure: the request (embeddings_request.py), the InvokeModel
bodies both ways (embeddings_bodies.py), the response shape (embeddings_response.py) and the
per-request plan that ties them together (embeddings_plan.py). The server's route does the I/O.
"""

from bedrock_gateway.protocols.openai_embeddings.embeddings_bodies import (
    Invocation,
    assemble_vectors,
    input_tokens_of,
    parse_invocation_result,
    plan_invocations,
    read_answer,
)
from bedrock_gateway.protocols.openai_embeddings.embeddings_plan import (
    EmbeddingsPlan,
    plan_embeddings,
)
from bedrock_gateway.protocols.openai_embeddings.embeddings_request import (
    EmbeddingsRequest,
    family_for,
    parse_embeddings_request,
)
from bedrock_gateway.protocols.openai_embeddings.embeddings_response import (
    build_embeddings_response,
    encode_base64,
)

__all__ = [
    "EmbeddingsPlan", "EmbeddingsRequest", "Invocation", "assemble_vectors",
    "build_embeddings_response", "encode_base64", "family_for", "input_tokens_of",
    "parse_embeddings_request", "parse_invocation_result", "plan_embeddings",
    "plan_invocations", "read_answer",
]
