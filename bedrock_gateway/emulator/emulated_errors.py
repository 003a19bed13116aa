"""Bedrock's error codes: one exception type, one status table, one message table.

Handlers raise `EmulatorError(code, message)`; the app's middleware turns it into Bedrock's error
response (status, `x-amzn-ErrorType` header, `{"message": ...}` body). Mid-stream exceptions use
the lowerCamel member names of the stream union (`throttlingException`, ...).
"""

from __future__ import annotations

from types import MappingProxyType

ERROR_TYPE_SUFFIX = ":http://internal.amazon.com/coral/com.amazon.bedrock/"

STATUS = MappingProxyType({
    "ValidationException": 400,
    "SerializationException": 400,
    "ServiceQuotaExceededException": 400,
    "AccessDeniedException": 403,
    "UnrecognizedClientException": 403,
    "ResourceNotFoundException": 404,
    "UnknownOperationException": 404,
    "ModelTimeoutException": 408,
    "ConflictException": 409,
    "ModelErrorException": 424,
    "ModelStreamErrorException": 424,
    "ThrottlingException": 429,
    "ModelNotReadyException": 429,
    "InternalServerException": 500,
    "ServiceUnavailableException": 503,
})

MESSAGES = MappingProxyType({
    "ValidationException": "The request failed validation.",
    "ServiceQuotaExceededException":
        "Your request exceeds the service quota for your account. You can view your quotas at "
        "https://docs.aws.amazon.com/servicequotas/latest/userguide/gs-request-quota.html.",
    "AccessDeniedException": "You don't have access to the model with the specified model ID.",
    "ResourceNotFoundException": "The requested resource could not be found.",
    "ModelTimeoutException":
        "Model has timed out in processing the request. Try your request again.",
    "ModelErrorException":
        "The system encountered an unexpected error during processing. Try your request again.",
    "ModelStreamErrorException": "The model stream encountered an error. Try your request again.",
    "ThrottlingException": "Too many requests, please wait before trying again.",
    "ModelNotReadyException":
        "Model is not ready to serve inference requests. The AWS SDK will automatically retry "
        "the operation up to 5 times.",
    "InternalServerException": "The server encountered an internal error.",
    "ServiceUnavailableException": "Bedrock is unable to process your request.",
})


class EmulatorError(Exception):
    """A Bedrock error response, raised anywhere before a response has started."""

    def __init__(self, code: str, message: str | None = None) -> None:
        self.code = code
        self.message = message or MESSAGES.get(code, code)
        super().__init__(f"{code}: {self.message}")

    @property
    def status(self) -> int:
        return STATUS.get(self.code, 400)


def validation(message: str) -> EmulatorError:
    return EmulatorError("ValidationException", message)


def pascal_case(code: str) -> str:
    """`throttlingException` -> `ThrottlingException` (stream member -> error code)."""
    return code[:1].upper() + code[1:]


def lower_camel(code: str) -> str:
    """`ThrottlingException` -> `throttlingException` (error code -> stream member)."""
    return code[:1].lower() + code[1:]


def stream_message(code: str) -> str:
    return MESSAGES.get(pascal_case(code), "The stream encountered an error.")
