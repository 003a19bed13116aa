"""Every error the gateway can return, and the one table that maps Bedrock's errors to OpenAI's.

Handlers and lower layers raise `GatewayError` subclasses; one middleware (and the SSE writer,
for errors after a stream began) turns them into OpenAI's error body. Nothing else formats errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


class GatewayError(Exception):
    """An error with an HTTP status and an OpenAI error body."""

    status: int = 500
    type: str = "api_error"
    code: str | None = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int | None = None,
        type: str | None = None,
        retry_after: float | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        if type is not None:
            self.type = type
        self.retry_after = retry_after
        # True when another region may succeed where this one failed (failover before first byte).
        self.retryable = retryable

    def body(self) -> dict:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequestError(GatewayError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_value"


class AuthenticationError(GatewayError):
    status = 401
    type = "invalid_request_error"
    code = "invalid_api_key"


class PermissionDeniedError(GatewayError):
    status = 403
    type = "permission_error"
    code = "access_denied"


class NotFoundError(GatewayError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class ModelNotFoundError(NotFoundError):
    code = "model_not_found"

    def __init__(self, model: str) -> None:
        super().__init__(
            f"The model '{model}' does not exist or is not available through this gateway.",
            param="model",
        )


class MethodNotAllowedError(GatewayError):
    status = 405
    type = "invalid_request_error"
    code = "method_not_allowed"


class RequestTooLargeError(GatewayError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class UnsupportedMediaTypeError(GatewayError):
    status = 415
    type = "invalid_request_error"
    code = "unsupported_media_type"


class RateLimitError(GatewayError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


class OverloadedError(RateLimitError):
    """Admission control refused the request: the gateway is at capacity."""

    code = "gateway_overloaded"


class UpstreamError(GatewayError):
    status = 502
    type = "api_error"
    code = "upstream_error"


class UpstreamTimeoutError(GatewayError):
    status = 504
    type = "timeout_error"
    code = "upstream_timeout"


class ServiceUnavailableError(GatewayError):
    status = 503
    type = "api_error"
    code = "service_unavailable"


class InternalError(GatewayError):
    status = 500
    type = "api_error"
    code = "internal_error"


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    status: int
    type: str
    code: str
    retryable: bool  # worth trying another region (only before the first byte reached the client)
    pass_message: bool  # Bedrock's message helps the caller (client errors); else a generic one


# Bedrock error codes, before the stream (PascalCase, from x-amzn-ErrorType) and inside a
# ConverseStream (lowerCamel exception members). Keys are normalised to lower case.
# Bedrock's own 500 is reported as 502: a 500 from us would mean our bug, not Bedrock's.
BEDROCK_ERRORS: Mapping[str, ErrorSpec] = MappingProxyType({
    "validationexception": ErrorSpec(400, "invalid_request_error", "invalid_request", False, True),
    # Bedrock's AccessDenied text names the account and the gateway's role ARN: not for clients.
    "accessdeniedexception": ErrorSpec(403, "permission_error", "access_denied", False, False),
    "unrecognizedclientexception": ErrorSpec(403, "permission_error", "access_denied", False,
                                             False),
    "resourcenotfoundexception": ErrorSpec(404, "invalid_request_error", "model_not_found", False,
                                           True),
    "modeltimeoutexception": ErrorSpec(408, "timeout_error", "model_timeout", True, False),
    "throttlingexception": ErrorSpec(429, "rate_limit_error", "throttled", True, False),
    "servicequotaexceededexception": ErrorSpec(429, "rate_limit_error", "quota_exceeded", True,
                                               True),
    "modelnotreadyexception": ErrorSpec(429, "rate_limit_error", "model_not_ready", True, False),
    "modelerrorexception": ErrorSpec(424, "api_error", "model_error", False, True),
    "modelstreamerrorexception": ErrorSpec(424, "api_error", "model_stream_error", False, True),
    "internalserverexception": ErrorSpec(502, "api_error", "bedrock_internal_error", True, False),
    "serviceunavailableexception": ErrorSpec(503, "api_error", "bedrock_unavailable", True, False),
})

_GENERIC_MESSAGES = {
    403: "Amazon Bedrock denied the gateway access to this model (the operator can check the "
         "model access and the gateway's IAM permissions).",
    408: "The model did not answer in time.",
    429: "Amazon Bedrock is throttling requests; retry after a short wait.",
    502: "Amazon Bedrock returned an internal error.",
    503: "Amazon Bedrock is temporarily unavailable.",
}

# Seconds a throttled client should wait; Bedrock sends no Retry-After of its own.
BEDROCK_RETRY_AFTER_SECONDS = 1.0


def from_bedrock_code(code: str, message: str | None) -> GatewayError:
    """The gateway error for a Bedrock error code (either casing) and Bedrock's message."""
    spec = BEDROCK_ERRORS.get(code.lower())
    if spec is None:
        return UpstreamError(f"Amazon Bedrock returned an error ({code}).", code="upstream_error")
    text = message if (spec.pass_message and message) else _GENERIC_MESSAGES.get(
        spec.status, f"Amazon Bedrock returned an error ({code})."
    )
    return GatewayError(
        text,
        status=spec.status,
        type=spec.type,
        code=spec.code,
        retry_after=BEDROCK_RETRY_AFTER_SECONDS if spec.status == 429 else None,
        retryable=spec.retryable,
    )


# -- Rendering for other client protocols ------------------------------------------------------
# The errors above are the gateway's own; OpenAI's body is their native form (`body()`). Every
# other protocol renders the same error through the tables below, so a new protocol adds a table
# here instead of formatting errors where it serves requests.

# Anthropic Messages API: `{"type": "error", "error": {"type", "message"}}`, the type set by the
# status. Codes listed in _ANTHROPIC_OVERLOADED mean "busy, retry": Anthropic says 529.
_ANTHROPIC_TYPES: dict[int, str] = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
    404: "not_found_error", 405: "invalid_request_error", 408: "timeout_error",
    413: "request_too_large", 415: "invalid_request_error", 429: "rate_limit_error",
    500: "api_error", 502: "api_error", 503: "overloaded_error", 504: "timeout_error",
    529: "overloaded_error",
}
_ANTHROPIC_OVERLOADED = frozenset({
    "bedrock_unavailable", "process_limit", "region_queue_timeout", "model_not_ready",
    "regions_unavailable", "catalog_not_ready", "server_shutdown", "service_unavailable",
})
ANTHROPIC_OVERLOADED_STATUS = 529


def anthropic_error(error: GatewayError) -> tuple[int, dict]:
    """(status, body) of a gateway error in the Anthropic Messages API's shape. The field an
    invalid request names leads the message, as Anthropic's own messages do."""
    status = error.status
    if error.code in _ANTHROPIC_OVERLOADED:
        status = ANTHROPIC_OVERLOADED_STATUS
    elif status == 424:  # a model error: Anthropic has no such status
        status = 500
    kind = _ANTHROPIC_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    message = error.message
    if error.param and not message.startswith(error.param):
        message = f"{error.param}: {message}"
    return status, {"type": "error", "error": {"type": kind, "message": message}}


# Bedrock's own wire format (the InvokeModel pass-through): the error's exception name, sent as
# `x-amzn-ErrorType` before a stream and as the `:exception-type` (lowerCamel) inside one.
_BEDROCK_NAMES_BY_CODE: dict[str, str] = {
    "invalid_request": "ValidationException", "access_denied": "AccessDeniedException",
    "model_not_found": "ResourceNotFoundException", "model_timeout": "ModelTimeoutException",
    "throttled": "ThrottlingException", "quota_exceeded": "ServiceQuotaExceededException",
    "model_not_ready": "ModelNotReadyException", "model_error": "ModelErrorException",
    "model_stream_error": "ModelStreamErrorException",
    "bedrock_internal_error": "InternalServerException",
    "bedrock_unavailable": "ServiceUnavailableException",
    "invalid_api_key": "UnrecognizedClientException",
}
_BEDROCK_NAMES_BY_STATUS: dict[int, str] = {
    400: "ValidationException", 401: "UnrecognizedClientException",
    403: "AccessDeniedException", 404: "ResourceNotFoundException",
    408: "ModelTimeoutException", 413: "ValidationException", 415: "ValidationException",
    424: "ModelErrorException", 429: "ThrottlingException", 503: "ServiceUnavailableException",
    504: "ModelTimeoutException",
}
# Members of InvokeModelWithResponseStream's event union; other names become internalServer.
_BEDROCK_STREAM_MEMBERS = frozenset({
    "internalServerException", "modelStreamErrorException", "validationException",
    "throttlingException", "modelTimeoutException", "serviceUnavailableException",
})


def bedrock_error_name(error: GatewayError) -> str:
    """Bedrock's exception name for a gateway error (`ThrottlingException`, ...)."""
    name = _BEDROCK_NAMES_BY_CODE.get(error.code or "")
    if name is None:
        name = _BEDROCK_NAMES_BY_STATUS.get(error.status, "InternalServerException")
        if error.code in _ANTHROPIC_OVERLOADED:  # busy: retryable, like Bedrock's 503
            name = "ServiceUnavailableException"
    return name


def bedrock_stream_exception(error: GatewayError) -> str:
    """The `:exception-type` of an error inside an InvokeModelWithResponseStream stream."""
    name = bedrock_error_name(error)
    member = name[:1].lower() + name[1:]
    return member if member in _BEDROCK_STREAM_MEMBERS else "internalServerException"


def bedrock_error(error: GatewayError) -> tuple[int, str, dict]:
    """(status, exception name, body) of a gateway error in Bedrock's own JSON error shape."""
    name = bedrock_error_name(error)
    status = {"ServiceUnavailableException": 503, "InternalServerException": 500,
              "UnrecognizedClientException": 403}.get(name, error.status)
    return status, name, {"message": error.message}


# -- virtual keys: limits, budgets, model access (docs/keys.md) ---------------------------------

class KeyRateLimitError(RateLimitError):
    """A virtual key's rpm, tpm or concurrent-stream limit (code names which)."""


class BudgetExceededError(RateLimitError):
    code = "budget_exceeded"


class ModelNotAllowedError(PermissionDeniedError):
    code = "model_not_allowed"


class RateLimiterUnavailableError(ServiceUnavailableError):
    """Redis (keys and counters) could not answer in time and REDIS_FAILURE_POLICY is closed."""

    code = "rate_limiter_unavailable"
