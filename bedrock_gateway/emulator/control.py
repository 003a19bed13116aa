"""The emulator's control API, under `/_emulator/` (no auth): stats, reset, fault rules.

`GET stats` -> `{"open_streams", "max_open_streams", "open_streams_by_model": {"<model id as
requested>": n}, "requests_total", "by": {"<region>
<operation>": n}, "recent": [{"region", "operation", "model", "ts"}, ...]}` (Converse entries
also hold `request`, a summary of what was sent: see `stats.converse_summary`); `POST reset`
clears counters, recent requests and faults; `POST faults` adds a rule (see `faults.py`) and
returns `{"id", "rule"}`; `GET faults` lists them; `DELETE faults` clears them all and
`DELETE faults/{id}` one.
"""

from __future__ import annotations

import orjson
from aiohttp import web

from bedrock_gateway.emulator.config import FAULTS, STATS


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


async def stats(request: web.Request) -> web.Response:
    return _json(request.app[STATS].snapshot())


async def reset(request: web.Request) -> web.Response:
    request.app[STATS].reset()
    request.app[FAULTS].clear()
    return _json({"ok": True})


async def list_faults(request: web.Request) -> web.Response:
    return _json({"faults": [rule.to_dict() for rule in request.app[FAULTS].rules]})


async def add_fault(request: web.Request) -> web.Response:
    try:
        rule = request.app[FAULTS].add(orjson.loads(await request.read()))
    except (ValueError, TypeError) as error:  # orjson.JSONDecodeError is a ValueError
        return _json({"error": str(error)}, status=400)
    return _json({"id": rule.id, "rule": rule.to_dict()})


async def clear_faults(request: web.Request) -> web.Response:
    request.app[FAULTS].clear()
    return _json({"ok": True})


async def remove_fault(request: web.Request) -> web.Response:
    removed = request.app[FAULTS].remove(request.match_info["rule_id"])
    return _json({"ok": removed}, status=200 if removed else 404)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/_emulator/stats", stats)
    app.router.add_post("/_emulator/reset", reset)
    app.router.add_get("/_emulator/faults", list_faults)
    app.router.add_post("/_emulator/faults", add_fault)
    app.router.add_delete("/_emulator/faults", clear_faults)
    app.router.add_delete("/_emulator/faults/{rule_id}", remove_fault)
