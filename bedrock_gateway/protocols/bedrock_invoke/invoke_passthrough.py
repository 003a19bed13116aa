"""A non-streamed InvokeModel passed through: the call's kwargs (the client's body as received)
and what goes back with Bedrock's body: the response headers the client gets too, and the token
counts they carry, for telemetry. Pure: header values in, plain data out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Bedrock's headers on InvokeModel answers that are passed on to the client (lower-case names,
# as botocore gives them).
INPUT_TOKENS_HEADER = "x-amzn-bedrock-input-token-count"
OUTPUT_TOKENS_HEADER = "x-amzn-bedrock-output-token-count"
PASSED_HEADERS = (INPUT_TOKENS_HEADER, OUTPUT_TOKENS_HEADER, "x-amzn-bedrock-invocation-latency")


def invoke_kwargs(model_id: str, body: bytes | bytearray) -> dict[str, Any]:
    """kwargs for `invoke_model(**kw)` / `invoke_model_with_response_stream(**kw)`."""
    return {"modelId": model_id, "body": body,
            "contentType": "application/json", "accept": "application/json"}


@dataclass(frozen=True, slots=True)
class PassedHeaders:
    headers: dict[str, str]  # the Bedrock headers the client gets
    input_tokens: int
    output_tokens: int


def _count(value: str | None) -> int:
    try:
        return int(value) if value else 0
    except ValueError:
        return 0


def passed_headers(upstream_headers: Mapping[str, str]) -> PassedHeaders:
    """The headers passed on from Bedrock's answer, and the token counts they say."""
    headers = {name: upstream_headers[name] for name in PASSED_HEADERS
               if name in upstream_headers}
    return PassedHeaders(headers, _count(headers.get(INPUT_TOKENS_HEADER)),
                         _count(headers.get(OUTPUT_TOKENS_HEADER)))
