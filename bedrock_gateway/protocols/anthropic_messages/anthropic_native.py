"""Claude models, natively: the Messages request as Bedrock's InvokeModel body, and Bedrock's
stream chunks back as Anthropic's events.

On Bedrock, Anthropic's InvokeModel body is the Messages API body without `model` and `stream`,
plus `anthropic_version: "bedrock-2023-05-31"` and the betas as `anthropic_beta`. Everything else
(thinking signatures, cache_control, citations, block types this gateway has never heard of) is
passed as sent, so nothing is lost in translation. The stream's `chunk` events carry Anthropic's
own event objects; the last one also carries Bedrock's `amazon-bedrock-invocationMetrics`, which
Anthropic's API does not send and is dropped here.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import orjson

from bedrock_gateway.protocols.anthropic_messages.anthropic_request import MessagesRequest
from bedrock_gateway.protocols.anthropic_messages.anthropic_usage import Usage

BEDROCK_ANTHROPIC_VERSION = "bedrock-2023-05-31"
BEDROCK_METRICS_KEY = "amazon-bedrock-invocationMetrics"
_NOT_FOR_BEDROCK = frozenset({"model", "stream"})


def is_native_model(base_model_id: str) -> bool:
    """Claude models take the Anthropic body through InvokeModel; the rest go through Converse."""
    return base_model_id.startswith("anthropic.claude")


def _inline_images(content: Any, fetched: Mapping[str, tuple[bytes, str]]) -> Any:
    if not isinstance(content, list):
        return content
    out = []
    for block in content:
        source = block.get("source") if isinstance(block, dict) else None
        if block.get("type") == "image" and isinstance(source, dict) \
                and source.get("type") == "url" and source.get("url") in fetched:
            data, fmt = fetched[source["url"]]
            block = {**block, "source": {"type": "base64", "media_type": f"image/{fmt}",
                                         "data": base64.b64encode(data).decode()}}
        elif block.get("type") == "tool_result" and isinstance(block.get("content"), list):
            block = {**block, "content": _inline_images(block["content"], fetched)}
        out.append(block)
    return out


def invoke_body(req: MessagesRequest,
                fetched_images: Mapping[str, tuple[bytes, str]] | None = None) -> dict:
    """The InvokeModel body. Images given by URL were fetched by the gateway (Bedrock takes
    only inline images) and are sent as base64."""
    body = {k: v for k, v in req.body.items() if k not in _NOT_FOR_BEDROCK}
    if fetched_images:
        body["messages"] = [{**m, "content": _inline_images(m.get("content"), fetched_images)}
                            for m in body["messages"]]
    body["anthropic_version"] = BEDROCK_ANTHROPIC_VERSION
    if req.betas:
        body["anthropic_beta"] = list(req.betas)
    else:
        body.pop("anthropic_beta", None)
    return body


def count_tokens_body(req: MessagesRequest,
                      fetched_images: Mapping[str, tuple[bytes, str]] | None = None) -> dict:
    """CountTokens' `invokeModel` body: what InvokeModel would be sent (it needs max_tokens,
    which count_tokens requests do not carry)."""
    body = invoke_body(req, fetched_images)
    body["max_tokens"] = req.max_tokens or 1
    return body


# Bedrock's chunks are Anthropic's compact JSON with `type` first; most are text deltas, which
# are passed on as received without being parsed (anything else is parsed, and re-encoded only
# when something had to be removed).
_DELTA_PREFIX = b'{"type":"content_block_delta"'


class NativeStreamRelay:
    """InvokeModelWithResponseStream events -> Anthropic events, as (type, JSON bytes) pairs
    passed as they come; records the usage and stop reason for telemetry on the way."""

    __slots__ = ("first_content_emitted", "stop_reason", "usage")

    def __init__(self) -> None:
        self.first_content_emitted = False
        self.usage = Usage()
        self.stop_reason: str | None = None

    def feed(self, event: Mapping[str, Any]) -> list[tuple[str, bytes]]:
        chunk = event.get("chunk")
        if not chunk:
            return []
        data = chunk["bytes"]
        if data.startswith(_DELTA_PREFIX):
            self.first_content_emitted = True
            return [("content_block_delta", data)]
        document = orjson.loads(data)
        kind = str(document.get("type"))
        if kind == "message_start":
            self.usage.update((document.get("message") or {}).get("usage"))
        elif kind in ("content_block_delta", "content_block_start"):
            self.first_content_emitted = True
        elif kind == "message_delta":
            self.usage.update(document.get("usage"))
            self.stop_reason = (document.get("delta") or {}).get("stop_reason")
        elif kind == "message_stop" and document.pop(BEDROCK_METRICS_KEY, None) is not None:
            data = orjson.dumps(document)
        return [(kind, data)]

    def finish(self) -> list[tuple[str, bytes]]:
        return []
