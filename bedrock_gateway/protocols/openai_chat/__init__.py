"""The OpenAI Chat Completions request, validated at the edge: `parse_chat_request` is the only
way in (see `request.py`); the shapes it returns are in `types.py`."""

from bedrock_gateway.protocols.openai_chat.chat_request import parse_chat_request
from bedrock_gateway.protocols.openai_chat.chat_types import (
    ChatRequest,
    ExtraBody,
    FilePart,
    ImagePart,
    Message,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
)

__all__ = [
    "ChatRequest", "ExtraBody", "FilePart", "ImagePart", "Message", "ResponseFormat", "TextPart",
    "Tool", "ToolCall", "ToolChoice", "parse_chat_request",
]
