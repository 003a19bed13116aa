"""Probes: /health says the process runs (no AWS call); /ready says it should get traffic."""

from __future__ import annotations

from aiohttp import web

from bedrock_gateway.server.http import json_response
from bedrock_gateway.server.app_state import CATALOG, LIFECYCLE


async def health(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    lifecycle = request.app[LIFECYCLE]
    catalog_loaded = request.app[CATALOG].ready.is_set()
    checks = {
        "clients": lifecycle.clients_ready,
        "catalog": catalog_loaded,
        "draining": lifecycle.draining,
    }
    ok = lifecycle.clients_ready and catalog_loaded and not lifecycle.draining
    return json_response({"status": "ready" if ok else "not_ready", "checks": checks},
                         status=200 if ok else 503)
