"""The OpenAI embeddings response: the `list` of `embedding` objects, built here and nowhere
else, with vectors as float lists or as base64 (little-endian float32, what the openai SDK
decodes with numpy.frombuffer)."""

from __future__ import annotations

import base64
import struct
from collections.abc import Sequence
from typing import Any

from bedrock_gateway.protocols.openai_embeddings.embeddings_request import EncodingFormat


def encode_base64(vector: Sequence[float]) -> str:
    """Little-endian float32, base64: what the openai SDK decodes with numpy.frombuffer."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def embedding_object(index: int, vector: Sequence[float],
                     encoding_format: EncodingFormat) -> dict[str, Any]:
    return {"object": "embedding", "index": index,
            "embedding": encode_base64(vector) if encoding_format == "base64" else list(vector)}


def build_embeddings_response(model: str, vectors_in_input_order: Sequence[Sequence[float]],
                              prompt_tokens: int, encoding_format: EncodingFormat,
                              ) -> dict[str, Any]:
    """OpenAI's embeddings response."""
    data = [embedding_object(index, vector, encoding_format)
            for index, vector in enumerate(vectors_in_input_order)]
    return {"object": "list", "data": data, "model": model,
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}}
