"""The admin API under /admin/v1 (ADMIN_API_KEY only; the auth middleware sees to that):
create, list, get, update and revoke virtual keys, and read a key's usage."""

from __future__ import annotations

import dataclasses
import logging
import time
from datetime import UTC, datetime, timedelta

from aiohttp import web

from bedrock_gateway.errors import InvalidRequestError, NotFoundError
from bedrock_gateway.keys.model import VirtualKey, mint, parse_spec
from bedrock_gateway.server.context import request_context
from bedrock_gateway.server.http import json_response, read_json_object
from bedrock_gateway.server.app_state import KEY_SERVICE, SETTINGS

log = logging.getLogger(__name__)
PREFIX = "/admin/v1"
_MAX_DAYS = 400


def add_admin_routes(app: web.Application) -> None:
    app.router.add_post(f"{PREFIX}/keys", create_key)
    app.router.add_get(f"{PREFIX}/keys", list_keys)
    app.router.add_get(f"{PREFIX}/keys/{{key_id}}", get_key)
    app.router.add_patch(f"{PREFIX}/keys/{{key_id}}", update_key)
    app.router.add_delete(f"{PREFIX}/keys/{{key_id}}", revoke_key)
    app.router.add_get(f"{PREFIX}/keys/{{key_id}}/usage", key_usage)


async def _record(request: web.Request) -> VirtualKey:
    key_id = request.match_info["key_id"]
    record = await request.app[KEY_SERVICE].registry.get(key_id)
    if record is None:
        raise NotFoundError(f"No key with id '{key_id}'.", code="key_not_found")
    request_context(request).key_id = key_id
    return record


async def create_key(request: web.Request) -> web.Response:
    spec = parse_spec(await read_json_object(request))
    record, secret = mint(spec, request.app[SETTINGS].keys_pepper)
    await request.app[KEY_SERVICE].registry.put(record)
    request_context(request).key_id = record.id
    log.info("key %s created (team %s)", record.id, record.team)
    return json_response({**record.public(), "key": secret}, status=201)


async def list_keys(request: web.Request) -> web.Response:
    records = await request.app[KEY_SERVICE].registry.list()
    records.sort(key=lambda r: (r.created_at, r.id))
    return json_response({"object": "list", "data": [r.public() for r in records]})


async def get_key(request: web.Request) -> web.Response:
    return json_response((await _record(request)).public())


async def update_key(request: web.Request) -> web.Response:
    record = await _record(request)
    if record.revoked:
        raise InvalidRequestError("A revoked key cannot be changed.", code="key_revoked")
    updated = dataclasses.replace(record, **parse_spec(await read_json_object(request),
                                                       partial=True))
    await request.app[KEY_SERVICE].registry.put(updated)
    log.info("key %s updated", record.id)
    return json_response(updated.public())


async def revoke_key(request: web.Request) -> web.Response:
    record = await _record(request)
    if not record.revoked:
        await request.app[KEY_SERVICE].registry.put(dataclasses.replace(record, revoked=True))
        log.info("key %s revoked", record.id)
    return web.Response(status=204)


async def key_usage(request: web.Request) -> web.Response:
    record = await _record(request)
    raw = request.query.get("days", "31")
    days = int(raw) if raw.isdigit() else 0
    if not 1 <= days <= _MAX_DAYS:
        raise InvalidRequestError(f"'days' must be a whole number from 1 to {_MAX_DAYS}.",
                                  param="days")
    today = datetime.fromtimestamp(time.time(), UTC)
    dates = [(today - timedelta(days=n)).strftime("%Y%m%d") for n in range(days)]
    rows = await request.app[KEY_SERVICE].limiter.usage(record.id, dates)
    totals = {name: sum(row[name] for row in rows) for name in
              ("requests", "input_tokens", "output_tokens", "cached_tokens")}
    return json_response({"object": "key.usage", "key_id": record.id, "days": days,
                          "data": rows, "totals": totals})
