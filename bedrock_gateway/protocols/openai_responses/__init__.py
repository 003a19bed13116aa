"""The OpenAI Responses API (`POST /responses`) as a client protocol over Bedrock Converse.

Pure: request validation (responses_request.py, responses_items.py), translation to Converse
through the chat translator (responses_converse.py), the response object and the bodies of the
stored-response routes (responses_object.py), the streaming event translator with sequence
numbers (responses_stream.py), and the sealing of reasoning into `encrypted_content`
(responses_sealing.py). The server's routes and the response store do the I/O.
"""

from bedrock_gateway.protocols.openai_responses.responses_converse import (
    ConversePlan,
    responses_param,
    to_converse,
)
from bedrock_gateway.protocols.openai_responses.responses_request import parse_responses_request
from bedrock_gateway.protocols.openai_responses.responses_object import (
    deleted_response,
    input_items_page,
    usage_for_context,
)
from bedrock_gateway.protocols.openai_responses.responses_sealing import ReasoningSealer
from bedrock_gateway.protocols.openai_responses.responses_stream import (
    ResponseEventTranslator,
    converse_response_events,
)
from bedrock_gateway.protocols.openai_responses.responses_types import ResponsesRequest, ToolRef

__all__ = ["ConversePlan", "ReasoningSealer", "ResponseEventTranslator", "ResponsesRequest",
           "ToolRef", "converse_response_events", "deleted_response", "input_items_page",
           "parse_responses_request",
           "responses_param", "to_converse", "usage_for_context"]
