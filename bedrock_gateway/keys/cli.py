"""`python -m bedrock_gateway.keys`: the admin API from a shell (stdlib only).

    export GATEWAY_URL=http://localhost:8000 ADMIN_API_KEY=...
    python -m bedrock_gateway.keys create --name ci --team search --model 'anthropic.*' \\
        --rpm 60 --tpm 100000 --max-streams 4 --tokens-per-day 2000000 --expires 2026-12-31
    python -m bedrock_gateway.keys list | get ID | update ID --rpm 120 | revoke ID | usage ID
    python -m bedrock_gateway.keys record --name ci   # offline: a KEYS_FILE entry + its secret

Output is JSON on stdout; an error prints the gateway's message on stderr and exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any

import yaml

from bedrock_gateway.keys.model import mint, parse_spec


def _spec(args: argparse.Namespace, partial: bool) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if args.name is not None:
        body["name"] = args.name
    if args.team is not None:
        body["team"] = args.team
    if args.model:
        body["models"] = args.model
    limits = {k: v for k, v in (("rpm", args.rpm), ("tpm", args.tpm),
                                ("max_streams", args.max_streams)) if v is not None}
    if limits:
        body["limits"] = limits
    budget = {k: v for k, v in (("tokens_per_day", args.tokens_per_day),
                                ("tokens_per_month", args.tokens_per_month),
                                ("usd_per_month", args.usd_per_month)) if v is not None}
    if budget:
        body["budget"] = budget
    if args.expires is not None:
        body["expires_at"] = args.expires
    return body


def _request(args: argparse.Namespace, method: str, path: str, body: Any = None) -> Any:
    if not args.admin_key:
        raise SystemExit("set ADMIN_API_KEY (or --admin-key)")
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        args.url.rstrip("/") + "/admin/v1" + path, data=data, method=method,
        headers={"Authorization": f"Bearer {args.admin_key}",
                 "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=args.timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read())["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = exc.reason
        print(f"error {exc.code}: {message}", file=sys.stderr)
        raise SystemExit(1) from None
    except urllib.error.URLError as exc:
        print(f"error: cannot reach {args.url}: {exc.reason}", file=sys.stderr)
        raise SystemExit(1) from None
    return json.loads(raw) if raw else None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bedrock_gateway.keys",
                                     description="Manage the gateway's virtual keys.")
    parser.add_argument("--url", default=os.environ.get("GATEWAY_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--admin-key", default=os.environ.get("ADMIN_API_KEY"))
    parser.add_argument("--timeout", type=float, default=10.0)
    commands = parser.add_subparsers(dest="command", required=True)

    def spec_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--name")
        sub.add_argument("--team")
        sub.add_argument("--model", action="append", help="id, alias or glob; repeatable")
        for flag in ("--rpm", "--tpm", "--max-streams", "--tokens-per-day",
                     "--tokens-per-month"):
            sub.add_argument(flag, type=int)
        sub.add_argument("--usd-per-month", type=float)
        sub.add_argument("--expires", help="ISO 8601 time")

    spec_options(commands.add_parser("create", help="create a key; prints its secret once"))
    spec_options(commands.add_parser("record", help="offline: a KEYS_FILE entry and secret"))
    commands.add_parser("list")
    for name in ("get", "revoke", "usage"):
        commands.add_parser(name).add_argument("id")
    commands.choices["usage"].add_argument("--days", type=int, default=31)
    update = commands.add_parser("update")
    update.add_argument("id")
    spec_options(update)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command
    if command == "record":
        record, secret = mint(parse_spec(_spec(args, False)), os.environ.get("KEYS_PEPPER"))
        print(yaml.safe_dump({"keys": [record.stored()]}, sort_keys=False), end="")
        print(f"# secret (shown once; give it to the key's owner): {secret}", file=sys.stderr)
        return 0
    if command == "create":
        result = _request(args, "POST", "/keys", _spec(args, False))
    elif command == "list":
        result = _request(args, "GET", "/keys")
    elif command == "get":
        result = _request(args, "GET", f"/keys/{args.id}")
    elif command == "update":
        result = _request(args, "PATCH", f"/keys/{args.id}", _spec(args, True))
    elif command == "revoke":
        _request(args, "DELETE", f"/keys/{args.id}")
        result = {"id": args.id, "revoked": True}
    else:
        result = _request(args, "GET", f"/keys/{args.id}/usage?days={args.days}")
    print(json.dumps(result, indent=2))
    return 0
