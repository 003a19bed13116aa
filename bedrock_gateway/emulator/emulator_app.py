"""`create_emulator_app`: the aiohttp application speaking Bedrock's wire protocol.

Routes: bedrock-runtime `POST /model/{modelId}/{converse|converse-stream|invoke|
invoke-with-response-stream}` (the id percent-encoded, so routed on the raw path), control plane
`GET /foundation-models` and `GET /inference-profiles`, and the emulator's own control API under
`/_emulator/`. The region of a request is the one of its SigV4 credential scope.
"""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from bedrock_gateway.emulator import control, runtime
from bedrock_gateway.emulator.config import CONFIG, FAULTS, STATS, EmulatorConfig
from bedrock_gateway.emulator.emulated_errors import ERROR_TYPE_SUFFIX, EmulatorError, validation
from bedrock_gateway.emulator.faults import FaultBook
from bedrock_gateway.emulator.runtime import region_of
from bedrock_gateway.emulator.stats import Stats

log = logging.getLogger(__name__)


def error_response(error: EmulatorError) -> web.Response:
    return web.Response(
        status=error.status, body=orjson.dumps({"message": error.message}),
        content_type="application/json",
        headers={"x-amzn-ErrorType": error.code + ERROR_TYPE_SUFFIX,
                 "x-amzn-RequestId": str(uuid.uuid4())})


@web.middleware
async def errors_middleware(request: web.Request,
                            handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                            ) -> web.StreamResponse:
    try:
        return await handler(request)
    except EmulatorError as error:
        return error_response(error)
    except web.HTTPNotFound:
        return error_response(EmulatorError("UnknownOperationException",
                                            f"No operation at {request.method} {request.path}"))
    except web.HTTPException:
        raise
    except Exception:
        log.exception("emulator handler failed")
        return error_response(EmulatorError("InternalServerException"))


async def list_foundation_models(request: web.Request) -> web.Response:
    region = region_of(request)
    await runtime.begin_simple(request, region, "list-foundation-models")
    query = request.query
    models = request.app[CONFIG].catalog.region(region).models
    if provider := query.get("byProvider"):
        models = tuple(m for m in models if m.get("providerName", "").lower() == provider.lower()
                       or m.get("modelId", "").split(".")[0] == provider.lower())
    for param, field in (("byOutputModality", "outputModalities"),
                         ("byInferenceType", "inferenceTypesSupported"),
                         ("byCustomizationType", "customizationsSupported")):
        if value := query.get(param):
            models = tuple(m for m in models if value in (m.get(field) or ()))
    return web.Response(body=orjson.dumps({"modelSummaries": list(models)}),
                        content_type="application/json")


async def list_inference_profiles(request: web.Request) -> web.Response:
    region = region_of(request)
    await runtime.begin_simple(request, region, "list-inference-profiles")
    config = request.app[CONFIG]
    query = request.query
    profiles = config.catalog.region(region).profiles
    if kind := query.get("type"):
        if kind not in ("SYSTEM_DEFINED", "APPLICATION"):
            raise validation(f"Value '{kind}' at 'typeEquals' failed to satisfy constraint: "
                             "Member must satisfy enum value set: [SYSTEM_DEFINED, APPLICATION]")
        profiles = tuple(p for p in profiles if p.get("type") == kind)
    try:
        size = int(query.get("maxResults", config.profiles_page_size))
        start = int(base64.urlsafe_b64decode(query["nextToken"]).decode()) \
            if "nextToken" in query else 0
    except (ValueError, UnicodeDecodeError):
        raise validation("Invalid nextToken or maxResults.") from None
    if not 1 <= size <= 1000 or start < 0:
        raise validation("Invalid nextToken or maxResults.")
    body: dict[str, Any] = {"inferenceProfileSummaries": list(profiles[start:start + size])}
    if start + size < len(profiles):
        body["nextToken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
    return web.Response(body=orjson.dumps(body), content_type="application/json")


def create_emulator_app(config: EmulatorConfig | None = None) -> web.Application:
    app = web.Application(middlewares=[errors_middleware], client_max_size=64 * 1024 * 1024)
    app[CONFIG] = config or EmulatorConfig()
    app[STATS] = Stats()
    app[FAULTS] = FaultBook()
    app.router.add_post("/model/{tail:.+}", runtime.handle_model)
    app.router.add_get("/foundation-models", list_foundation_models)
    app.router.add_get("/inference-profiles", list_inference_profiles)
    control.add_routes(app)
    return app
