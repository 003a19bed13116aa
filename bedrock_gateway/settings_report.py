"""What the operator sees of the settings: `--print-config` and the one start-up summary line.

Secrets never appear: API keys are replaced by how many there are; other values are not secret
(file paths, ARNs and parameter names of where keys live, not the keys).
"""

from __future__ import annotations

from typing import Any

from bedrock_gateway.settings import Settings
from bedrock_gateway.settings_sources import ENV_FIELDS

REDACTED_SETTINGS = frozenset({"API_KEY"})


def as_env(settings: Settings) -> dict[str, Any]:
    """The settings under their variable names (the keys of GATEWAY_CONFIG_FILE)."""
    out: dict[str, Any] = {}
    for name, (attr, _) in ENV_FIELDS.items():
        value = getattr(settings, attr)
        out[name] = ",".join(value) if isinstance(value, tuple) else value
    out["API_KEY"] = ",".join(settings.api_keys) if settings.api_keys else None
    return dict(sorted(out.items()))


def redacted_env(settings: Settings) -> dict[str, object]:
    values = as_env(settings)
    for name in REDACTED_SETTINGS:
        if values.get(name):
            values[name] = f"<redacted: {len(settings.api_keys)} key(s)>"
    return values


def effective_config_yaml(settings: Settings) -> str:
    """The effective settings as a YAML file usable as GATEWAY_CONFIG_FILE (minus the secrets)."""
    import yaml  # only for this command

    header = ("# bedrock-gateway effective configuration (defaults, GATEWAY_CONFIG_FILE, env,"
              " flags)\n# Secrets are redacted; unset settings are null.\n")
    return header + yaml.safe_dump(redacted_env(settings), sort_keys=True,
                                   default_flow_style=False, allow_unicode=True)


def key_sources(settings: Settings) -> list[str]:
    sources = []
    if settings.api_keys:
        sources.append("API_KEY")
    for name, value in (("API_KEY_FILE", settings.api_key_file),
                        ("API_KEY_SECRET_ARN", settings.api_key_secret_arn),
                        ("API_KEY_PARAM_NAME", settings.api_key_param_name)):
        if value:
            sources.append(name)
    return sources


def startup_summary(settings: Settings, version: str, *, metrics_port: int | None) -> str:
    """One line saying what this process serves, from where, and how it is set up."""
    origins = ",".join(settings.allowed_origins) or "off"
    metrics = f":{metrics_port}" if metrics_port else "off"
    return (f"bedrock-gateway {version} listening on http://{settings.host}:{settings.port}"
            f"{settings.api_route_prefix} metrics={metrics} regions={','.join(settings.regions)}"
            f" default_model={settings.default_model} keys={'+'.join(key_sources(settings))}"
            f" cors={origins} log_format={settings.log_format}"
            f" max_concurrent_requests={settings.max_concurrent_requests}")
