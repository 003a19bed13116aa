"""botocore / aiohttp exceptions -> the gateway's errors. The only place that inspects them."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from bedrock_gateway.errors import (
    GatewayError,
    UpstreamError,
    UpstreamTimeoutError,
    from_bedrock_code,
)

log = logging.getLogger(__name__)


def map_bedrock_exception(exc: BaseException) -> GatewayError:
    """The gateway error for anything the Bedrock client stack raised.

    EventStreamError (in-stream, lowerCamel codes) is a ClientError subclass, so both paths share
    the one table in `bedrock_gateway.errors`.
    """
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {}) if isinstance(exc.response, dict) else {}
        code = str(error.get("Code") or "")
        if not code:
            return UpstreamError("Amazon Bedrock returned an unrecognised error.")
        # Bedrock's full text (it may name the account and role ARN) only at debug level; the
        # client gets it only for the codes whose text is about its own request (errors.py).
        log.debug("Amazon Bedrock error %s: %s", code, error.get("Message"))
        return from_bedrock_code(code, error.get("Message"))
    # A stall mid-stream raises aiohttp's timeout raw: botocore neither wraps nor retries it.
    if isinstance(exc, (ReadTimeoutError, asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return UpstreamTimeoutError("Amazon Bedrock did not answer in time.", retryable=True)
    if isinstance(exc, ConnectTimeoutError):
        return UpstreamTimeoutError("Connecting to Amazon Bedrock timed out.",
                                    code="upstream_connect_timeout", retryable=True)
    if isinstance(exc, (EndpointConnectionError, ConnectionClosedError, aiohttp.ClientError,
                        ConnectionError)):
        return UpstreamError("The connection to Amazon Bedrock failed.",
                             code="upstream_connection_error", retryable=True)
    return UpstreamError("Calling Amazon Bedrock failed unexpectedly.")
