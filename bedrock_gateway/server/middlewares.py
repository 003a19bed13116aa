"""Cross-cutting request handling: errors become OpenAI error bodies here and nowhere else, and
API keys are checked here."""

from __future__ import annotations

import asyncio
import hmac
import logging

from aiohttp import web

from bedrock_gateway.auth import bearer_token
from bedrock_gateway.errors import (
    AuthenticationError,
    GatewayError,
    InternalError,
    MethodNotAllowedError,
    NotFoundError,
    RequestTooLargeError,
    UnsupportedMediaTypeError,
)
from bedrock_gateway.server.context import request_context
from bedrock_gateway.server.http import error_protocol, error_response
from bedrock_gateway.server.key_access import PRINCIPAL, confirm_admission, finish_request
from bedrock_gateway.server.app_state import KEY_SERVICE, SETTINGS

log = logging.getLogger(__name__)

# Paths served without a key: probes must work before and without credentials.
PUBLIC_PATHS = frozenset({"/health", "/ready"})

_HTTP_ERRORS: dict[int, type[GatewayError]] = {
    404: NotFoundError,
    405: MethodNotAllowedError,
    413: RequestTooLargeError,
    415: UnsupportedMediaTypeError,
}


@web.middleware
async def error_middleware(request: web.Request, handler) -> web.StreamResponse:
    ctx = request_context(request)
    try:
        response = await handler(request)
    except GatewayError as raised:
        response = error_response(raised, error_protocol(request))
        ctx.error_code = raised.code
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        error_cls = _HTTP_ERRORS.get(exc.status, GatewayError)
        message = {404: f"No route for {request.method} {request.path}.",
                   405: f"Method {request.method} is not allowed on {request.path}."}.get(
            exc.status, exc.reason)
        error = error_cls(message, status=exc.status)
        response = error_response(error, error_protocol(request))
        ctx.error_code = error.code
    except asyncio.CancelledError:
        ctx.disconnected = True
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        error = InternalError("The gateway failed to process the request.")
        response = error_response(error, error_protocol(request))
        ctx.error_code = error.code
    ctx.status = response.status
    if response.status >= 400 and request.can_read_body:
        # Refused before its body was read (401, 413, 429, ...): close instead of draining it.
        response.force_close()
    return response


# The admin API: its own key, never a data key; and the admin key never opens a data route.
ADMIN_PREFIX = "/admin/"


@web.middleware
async def auth_middleware(request: web.Request, handler) -> web.StreamResponse:
    if request.path not in PUBLIC_PATHS:
        # `Authorization: Bearer` (OpenAI, Claude Code's ANTHROPIC_AUTH_TOKEN) or `x-api-key`
        # (Anthropic's SDKs); the same keys either way.
        token = bearer_token(request.headers.get("Authorization")) \
            or request.headers.get("x-api-key") or None
        if token is None:
            raise AuthenticationError(
                "Missing API key: send it as 'Authorization: Bearer <key>' or 'x-api-key'.")
        admin_key = request.app[SETTINGS].admin_api_key
        is_admin = admin_key is not None and hmac.compare_digest(token.encode(),
                                                                 admin_key.encode())
        if request.path.startswith(ADMIN_PREFIX):
            if admin_key is None:
                raise NotFoundError("The admin API is disabled (ADMIN_API_KEY is not set).")
            if not is_admin:
                raise AuthenticationError("The admin API takes only the admin key.",
                                          code="admin_key_required")
        else:
            principal = None if is_admin else await request.app[KEY_SERVICE].authenticate(token)
            if principal is None:
                raise AuthenticationError("Incorrect API key provided.")
            request[PRINCIPAL] = principal
            request_context(request).key_id = principal.key_id
    try:
        try:
            response = await handler(request)
        except Exception:
            # A limit check still on its way (Redis) decides first: its refusal is the answer.
            await confirm_admission(request)
            raise
        if not response.prepared:  # (a stream is under way only once its check passed)
            await confirm_admission(request)
        return response
    finally:
        finish_request(request, request_context(request))
