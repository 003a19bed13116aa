"""API keys held in AWS Secrets Manager or SSM Parameter Store (read by `auth.ApiKeyStore`)."""

from __future__ import annotations

from typing import Any

from bedrock_gateway.auth import keys_from_text


async def secret_api_keys(secretsmanager: Any, secret_id: str) -> list[str]:
    """The incumbent's format: a JSON secret string with the field `api_key` (or `api_keys`)."""
    response = await secretsmanager.get_secret_value(SecretId=secret_id)
    return keys_from_text(response.get("SecretString") or "", "API_KEY_SECRET_ARN")


async def parameter_api_keys(ssm: Any, name: str) -> list[str]:
    response = await ssm.get_parameter(Name=name, WithDecryption=True)
    return keys_from_text(response["Parameter"]["Value"], "API_KEY_PARAM_NAME")
