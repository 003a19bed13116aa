"""Bedrock's own InvokeModel API, served to clients that speak it (Claude Code's Bedrock mode):
`POST /model/{modelId}/invoke` and `/invoke-with-response-stream`, answered with Bedrock's body and
binary event stream. Pure: the event-stream encoder and the stream relay."""

from bedrock_gateway.protocols.bedrock_invoke.invoke_eventstream import (
    encode_chunk_event,
    encode_exception,
)
from bedrock_gateway.protocols.bedrock_invoke.invoke_relay import InvokeStreamRelay

__all__ = ["InvokeStreamRelay", "encode_chunk_event", "encode_exception"]
