"""One chat completions request, planned once: `plan_chat` turns the parsed request, the
resolved model and the operator's options into a `ChatPlan` that holds the Converse kwargs and
every decision the answer depends on (the structured-output tool, legacy `functions`,
`include_usage`, the completion's id and time). The plan then makes both kinds of answer: the
stream translator (`stream_translator()`, fed ConverseStream events) and the whole completion
(`response(converse_response)`). The server only does the I/O around it.

Remote images are the one thing the plan cannot hold when it is made: the kwargs carry a
placeholder per image URL (`remote_images()` names them), which the server fetches and puts in
place with `attach_images` before the call, after the whole request has been validated.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from bedrock_gateway.conversation.capabilities import ModelCapabilities
from bedrock_gateway.conversation.images import attach_remote_images, pending_remote_images
from bedrock_gateway.protocols.openai_chat.chat_converse import TranslateOptions, chat_to_converse
from bedrock_gateway.protocols.openai_chat.chat_response import from_converse_response
from bedrock_gateway.protocols.openai_chat.chat_stream import ChunkTranslator
from bedrock_gateway.protocols.openai_chat.chat_types import ChatRequest


@dataclass(frozen=True, slots=True)
class ChatPlan:
    converse_kwargs: dict[str, Any]  # Converse / ConverseStream kwargs (modelId included)
    model: str  # the model name the client asked for: echoed in every answer
    stream: bool
    include_usage: bool  # stream_options.include_usage: a last chunk with the usage
    legacy_functions: bool  # `functions` request: answer with `function_call`
    structured_tool: str | None  # synthetic tool whose input is the answer (json_schema)
    completion_id: str
    created: int

    def remote_images(self) -> dict[str, str]:
        """{url: the param a fetch error names} of the images still to fetch."""
        return pending_remote_images(self.converse_kwargs["messages"])

    def attach_images(self, fetched: Mapping[str, tuple[bytes, str]]) -> None:
        """Put the fetched images (checked like any image) in place of their placeholders."""
        attach_remote_images(self.converse_kwargs["messages"], fetched)

    def stream_translator(self) -> ChunkTranslator:
        """A fresh translator of this request's ConverseStream events into chunks."""
        return ChunkTranslator(model=self.model, completion_id=self.completion_id,
                               created=self.created, include_usage=self.include_usage,
                               structured_tool=self.structured_tool,
                               legacy_functions=self.legacy_functions)

    def response(self, converse_response: Mapping[str, Any]) -> dict[str, Any]:
        """The `chat.completion` for a (non-streamed) Converse response."""
        return from_converse_response(converse_response, model=self.model,
                                      completion_id=self.completion_id, created=self.created,
                                      structured_tool=self.structured_tool,
                                      legacy_functions=self.legacy_functions)


def new_completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def plan_chat(req: ChatRequest, *, model_id: str, caps: ModelCapabilities,
              options: TranslateOptions, model_name: str | None = None,
              fetched_images: Mapping[str, tuple[bytes, str]] = MappingProxyType({}),
              completion_id: str | None = None, created: int | None = None) -> ChatPlan:
    """The plan for `req` sent to `model_id` (the resolved Bedrock id or profile; `caps` are its
    capabilities). `model_name` is the name answers echo (the request's model by default). A new
    id and the current time are used unless given (tests give them)."""
    call = chat_to_converse(req, model_id=model_id, caps=caps, options=options,
                            fetched_images=fetched_images)
    return ChatPlan(
        converse_kwargs=call.kwargs,
        model=model_name if model_name is not None else req.model or model_id,
        stream=req.stream,
        include_usage=req.include_usage,
        legacy_functions=req.legacy_functions,
        structured_tool=call.structured_tool,
        completion_id=completion_id if completion_id is not None else new_completion_id(),
        created=created if created is not None else int(time.time()),
    )
