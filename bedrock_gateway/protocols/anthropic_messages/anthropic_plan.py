"""One Messages API request, planned once: `plan_message` decides the path (Claude natively
through InvokeModel with Anthropic's own body, every other model through Converse), holds the
call's kwargs and makes both kinds of answer: the stream translator (`stream_translator()`) and
the whole message with its usage (`answer(bedrock_response)`). A count_tokens request for a
Claude model is one CountTokens call (`count_tokens_kwargs`, `counted_tokens`). The server only
does the I/O.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import orjson

from bedrock_gateway.conversation.capabilities import capabilities_for
from bedrock_gateway.errors import UpstreamError
from bedrock_gateway.protocols.anthropic_messages.anthropic_converse_request import (
    to_converse_kwargs,
)
from bedrock_gateway.protocols.anthropic_messages.anthropic_converse_response import (
    from_converse_response,
)
from bedrock_gateway.protocols.anthropic_messages.anthropic_converse_stream import (
    ConverseStreamTranslator,
)
from bedrock_gateway.protocols.anthropic_messages.anthropic_native import (
    NativeStreamRelay,
    count_tokens_body,
    invoke_body,
    is_native_model,
)
from bedrock_gateway.protocols.anthropic_messages.anthropic_request import MessagesRequest
from bedrock_gateway.protocols.anthropic_messages.anthropic_usage import Usage


@dataclass(frozen=True, slots=True)
class MessageAnswer:
    body: bytes | dict[str, Any]  # Bedrock's own bytes (native: passed on as is), or the message
    usage: Usage
    stop_reason: str | None


@dataclass(frozen=True, slots=True)
class MessagesPlan:
    native: bool  # Claude: InvokeModel with Anthropic's body; else Converse
    kwargs: dict[str, Any]  # the InvokeModel or Converse kwargs
    model: str  # the model name the client asked for: echoed in translated answers
    message_id: str
    stream: bool

    def stream_translator(self) -> NativeStreamRelay | ConverseStreamTranslator:
        if self.native:
            return NativeStreamRelay()
        return ConverseStreamTranslator(model=self.model, message_id=self.message_id)

    def answer(self, response: Mapping[str, Any]) -> MessageAnswer:
        """The message for a non-streamed call's response (InvokeModel: its body already read
        into bytes), with the usage and stop reason for telemetry."""
        if self.native:
            raw = response["body"]
            try:
                message = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise UpstreamError("Amazon Bedrock returned an unreadable message.") from None
            if not isinstance(message, dict):
                raise UpstreamError("Amazon Bedrock returned a message of an unexpected shape.")
            usage = Usage()
            reported = message.get("usage")
            usage.update(reported if isinstance(reported, dict) else None)
            # Bedrock's body is Anthropic's message: passed on byte for byte.
            return MessageAnswer(raw, usage, message.get("stop_reason"))
        translated = from_converse_response(response, model=self.model,
                                            message_id=self.message_id)
        return MessageAnswer(translated, Usage.from_converse(response.get("usage")),
                             translated["stop_reason"])


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex[:24]}"


def plan_message(req: MessagesRequest, *, model_id: str, base_model_id: str | None = None,
                 fetched_images: Mapping[str, tuple[bytes, str]] = MappingProxyType({}),
                 message_id: str | None = None) -> MessagesPlan:
    """The plan for `req` sent to `model_id` (its family from `base_model_id` when given);
    `fetched_images` are the remote images the request names, already fetched."""
    base = base_model_id or model_id
    native = is_native_model(base)
    if native:
        kwargs: dict[str, Any] = {
            "modelId": model_id, "body": orjson.dumps(invoke_body(req, fetched_images)),
            "contentType": "application/json", "accept": "application/json"}
    else:
        kwargs = to_converse_kwargs(req, model_id=model_id, caps=capabilities_for(base),
                                    fetched_images=fetched_images)
    return MessagesPlan(native, kwargs, req.model, message_id or new_message_id(), req.stream)


def count_tokens_kwargs(req: MessagesRequest, *, base_model_id: str,
                        fetched_images: Mapping[str, tuple[bytes, str]] = MappingProxyType({}),
                        ) -> dict[str, Any]:
    """kwargs for `client.count_tokens(**kw)`: CountTokens names the base model."""
    body = orjson.dumps(count_tokens_body(req, fetched_images))
    return {"modelId": base_model_id, "input": {"invokeModel": {"body": body}}}


def counted_tokens(response: Mapping[str, Any]) -> int:
    """The input tokens a CountTokens response reports."""
    return int(response.get("inputTokens") or 0)
