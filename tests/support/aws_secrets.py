"""A wire-level stand-in for AWS Secrets Manager and SSM Parameter Store (JSON 1.1 protocol:
POST / with `X-Amz-Target`), enough for the gateway's API-key sources: the real botocore clients
talk to it through AWS_ENDPOINT_URL_SECRETS_MANAGER / AWS_ENDPOINT_URL_SSM."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class SecretStore:
    secrets: dict[str, str] = field(default_factory=dict)  # SecretId -> SecretString
    parameters: dict[str, str] = field(default_factory=dict)  # Name -> Value
    calls: list[str] = field(default_factory=list)


def _error(code: str, message: str, status: int = 400) -> web.Response:
    return web.Response(status=status, content_type="application/x-amz-json-1.1",
                        text=json.dumps({"__type": code, "message": message}))


def create_secrets_app(store: SecretStore) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        target = request.headers.get("X-Amz-Target", "")
        body = json.loads(await request.read() or b"{}")
        store.calls.append(target)
        if target == "secretsmanager.GetSecretValue":
            secret_id = body.get("SecretId")
            if secret_id not in store.secrets:
                return _error("ResourceNotFoundException", "Secrets Manager can't find it.")
            return web.json_response(
                {"ARN": secret_id, "Name": secret_id.rsplit(":", 1)[-1],
                 "SecretString": store.secrets[secret_id], "VersionId": "v1"},
                content_type="application/x-amz-json-1.1")
        if target == "AmazonSSM.GetParameter":
            name = body.get("Name")
            if name not in store.parameters:
                return _error("ParameterNotFound", "Parameter not found.")
            return web.json_response(
                {"Parameter": {"Name": name, "Type": "SecureString", "Version": 1,
                               "Value": store.parameters[name]}},
                content_type="application/x-amz-json-1.1")
        return _error("UnknownOperationException", f"unknown target {target}")

    app = web.Application()
    app.router.add_post("/", handle)
    return app
