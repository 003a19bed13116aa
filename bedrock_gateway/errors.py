"""Every error the gateway can return, and the one table that maps Bedrock's errors to OpenAI's.

Handlers and lower layers raise `GatewayError` subclasses; one middleware (and the SSE writer,
for errors after a stream began) turns them into OpenAI's error body. Nothing else formats errors.
"""

from __future__ import annotations

from dataclasses import dataclass


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
_BEDROCK_ERRORS: dict[str, ErrorSpec] = {
    "validationexception": ErrorSpec(400, "invalid_request_error", "invalid_request", False, True),
    # Bedrock's AccessDenied text names the account and the gateway's role ARN: not for clients.
    "accessdeniedexception": ErrorSpec(403, "permission_error", "access_denied", False, False),
    "unrecognizedclientexception": ErrorSpec(403, "permission_error", "access_denied", False, False),
    "resourcenotfoundexception": ErrorSpec(404, "invalid_request_error", "model_not_found", False, True),
    "modeltimeoutexception": ErrorSpec(408, "timeout_error", "model_timeout", True, False),
    "throttlingexception": ErrorSpec(429, "rate_limit_error", "throttled", True, False),
    "servicequotaexceededexception": ErrorSpec(429, "rate_limit_error", "quota_exceeded", True, True),
    "modelnotreadyexception": ErrorSpec(429, "rate_limit_error", "model_not_ready", True, False),
    "modelerrorexception": ErrorSpec(424, "api_error", "model_error", False, True),
    "modelstreamerrorexception": ErrorSpec(424, "api_error", "model_stream_error", False, True),
    "internalserverexception": ErrorSpec(502, "api_error", "bedrock_internal_error", True, False),
    "serviceunavailableexception": ErrorSpec(503, "api_error", "bedrock_unavailable", True, False),
}

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
    spec = _BEDROCK_ERRORS.get(code.lower())
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


def known_bedrock_codes() -> list[str]:
    """Every Bedrock code in the table (for tests that walk the whole table)."""
    return sorted(_BEDROCK_ERRORS)


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
