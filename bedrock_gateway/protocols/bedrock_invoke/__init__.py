"""Bedrock's own InvokeModel API, served to clients that speak it (Claude Code's Bedrock mode):
`POST /model/{modelId}/invoke` and `/invoke-with-response-stream`, answered with Bedrock's body and
binary event stream. Pure: the event-stream encoder, the stream relay and the pass-through of a
non-streamed answer's headers."""

from bedrock_gateway.protocols.bedrock_invoke.invoke_eventstream import (
    encode_chunk_event,
    encode_exception,
)
from bedrock_gateway.protocols.bedrock_invoke.invoke_passthrough import (
    PassedHeaders,
    invoke_kwargs,
    passed_headers,
)
from bedrock_gateway.protocols.bedrock_invoke.invoke_relay import InvokeStreamRelay

__all__ = ["InvokeStreamRelay", "PassedHeaders", "encode_chunk_event", "encode_exception",
           "invoke_kwargs", "passed_headers"]
