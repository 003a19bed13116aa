"""One error, three shapes: the error table renders OpenAI's, Anthropic's and Bedrock's."""

from __future__ import annotations

import base64
import json

import pytest
from botocore.eventstream import EventStreamBuffer

from bedrock_gateway.errors import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    OverloadedError,
    anthropic_error,
    bedrock_error,
    bedrock_stream_exception,
    from_bedrock_code,
)
from bedrock_gateway.protocols.bedrock_invoke import (
    encode_chunk_event,
    encode_exception,
)


@pytest.mark.parametrize(("error", "status", "kind"), [
    (InvalidRequestError("bad", param="messages.0.role"), 400, "invalid_request_error"),
    (AuthenticationError("no key"), 401, "authentication_error"),
    (from_bedrock_code("AccessDeniedException", "denied"), 403, "permission_error"),
    (NotFoundError("nothing"), 404, "not_found_error"),
    (from_bedrock_code("ThrottlingException", None), 429, "rate_limit_error"),
    (from_bedrock_code("ServiceUnavailableException", None), 529, "overloaded_error"),
    (OverloadedError("full", code="process_limit"), 529, "overloaded_error"),
    (from_bedrock_code("ModelErrorException", "boom"), 500, "api_error"),
    (from_bedrock_code("InternalServerException", None), 502, "api_error"),
    (from_bedrock_code("ModelTimeoutException", None), 408, "timeout_error"),
])
def test_anthropic_shape(error, status, kind) -> None:
    got_status, body = anthropic_error(error)
    assert got_status == status
    assert body == {"type": "error", "error": {"type": kind, "message": body["error"]["message"]}}
    if error.param:
        assert body["error"]["message"] == f"{error.param}: {error.message}"


@pytest.mark.parametrize(("error", "status", "name", "member"), [
    (from_bedrock_code("ThrottlingException", None), 429, "ThrottlingException",
     "throttlingException"),
    (from_bedrock_code("ValidationException", "bad"), 400, "ValidationException",
     "validationException"),
    (AuthenticationError("no key"), 403, "UnrecognizedClientException", "internalServerException"),
    (OverloadedError("full", code="process_limit"), 503, "ServiceUnavailableException",
     "serviceUnavailableException"),
    (from_bedrock_code("ModelStreamErrorException", "x"), 424, "ModelStreamErrorException",
     "modelStreamErrorException"),
])
def test_bedrock_shape(error, status, name, member) -> None:
    assert bedrock_error(error) == (status, name, {"message": error.message})
    assert bedrock_stream_exception(error) == member


def test_event_stream_frames_parse_with_botocore() -> None:
    """The gateway's own encoder, read back by botocore's event-stream parser."""
    buffer = EventStreamBuffer()
    buffer.add_data(encode_chunk_event(b'{"type":"ping"}') + encode_exception(
        "throttlingException", "slow down"))
    chunk, exception = list(buffer)
    assert chunk.headers == {":event-type": "chunk", ":content-type": "application/json",
                             ":message-type": "event"}
    assert base64.b64decode(json.loads(chunk.payload)["bytes"]) == \
        b'{"type":"ping"}'
    assert exception.headers[":exception-type"] == "throttlingException"
    assert exception.headers[":message-type"] == "exception"
