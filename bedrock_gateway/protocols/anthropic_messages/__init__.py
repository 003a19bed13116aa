"""The Anthropic Messages API (`POST /v1/messages`, `/v1/messages/count_tokens`, the model
list): request checks, Claude's native InvokeModel body and stream relay, and the translation to
and from Converse for every other model. Pure: no HTTP server, no AWS SDK."""

from bedrock_gateway.protocols.anthropic_messages.anthropic_converse_request import (
    to_converse_kwargs,
)
from bedrock_gateway.protocols.anthropic_messages.anthropic_converse_response import (
    from_converse_response,
)
from bedrock_gateway.protocols.anthropic_messages.anthropic_converse_stream import (
    ConverseStreamTranslator,
)
from bedrock_gateway.protocols.anthropic_messages.anthropic_models import (
    anthropic_names,
    model_list,
    model_object,
)
from bedrock_gateway.protocols.anthropic_messages.anthropic_native import (
    NativeStreamRelay,
    count_tokens_body,
    invoke_body,
    is_native_model,
)
from bedrock_gateway.protocols.anthropic_messages.anthropic_request import (
    MessagesRequest,
    parse_messages_request,
    remote_image_urls,
)
from bedrock_gateway.protocols.anthropic_messages.anthropic_tokens import estimate_input_tokens
from bedrock_gateway.protocols.anthropic_messages.anthropic_usage import Usage

__all__ = [
    "ConverseStreamTranslator", "MessagesRequest", "NativeStreamRelay", "Usage",
    "anthropic_names", "count_tokens_body", "estimate_input_tokens", "from_converse_response",
    "invoke_body", "is_native_model", "model_list", "model_object", "parse_messages_request",
    "remote_image_urls", "to_converse_kwargs",
]
