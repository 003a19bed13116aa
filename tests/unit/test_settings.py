"""Settings: parsing, validation messages, and the README table documenting every variable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bedrock_gateway.settings import Settings, SettingsError, setting_names


def test_defaults_and_incumbent_names():
    s = Settings.from_env({"API_KEY": "key-aaaaaaaaaaaaaaa1, key-bbbbbbbbbbbbbbb2",
                           "AWS_REGION": "eu-west-1",
                           "BEDROCK_REGIONS": "eu-west-1, eu-central-1", "DEBUG": "true",
                           "API_ROUTE_PREFIX": "/api/v1"})
    assert s.api_keys == ("key-aaaaaaaaaaaaaaa1", "key-bbbbbbbbbbbbbbb2")
    assert s.regions == ("eu-west-1", "eu-central-1")
    assert s.debug is True
    assert s.route_prefixes == ("/api/v1", "/v1")


def test_regions_default_to_aws_region():
    assert Settings.from_env({"AWS_REGION": "us-west-2"}).regions == ("us-west-2",)


def test_every_bad_value_is_reported_at_once():
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"PORT": "x", "DEBUG": "perhaps", "STREAM_IDLE_TIMEOUT": "-1"})
    text = str(info.value)
    assert "PORT" in text and "DEBUG" in text and "STREAM_IDLE_TIMEOUT" in text


def test_yaml_file_then_env(tmp_path):
    config = tmp_path / "gw.yaml"
    config.write_text("PORT: 9001\nbedrock_regions: [us-east-1, us-west-2]\nDEBUG: true\n")
    s = Settings.from_env({"GATEWAY_CONFIG_FILE": str(config), "DEBUG": "false"})
    assert s.port == 9001 and s.regions == ("us-east-1", "us-west-2") and s.debug is False


def test_keys_are_not_in_repr():
    settings = Settings.from_env({"API_KEY": "secret-value-0123456"})
    assert "secret-value-0123456" not in repr(settings)


def test_a_yaml_list_of_keys_is_a_list_of_keys(tmp_path):
    config = tmp_path / "gw.yaml"
    config.write_text("API_KEY: [key-aaaaaaaaaaaaaaa1, key-bbbbbbbbbbbbbbb2]\n")
    s = Settings.from_env({"GATEWAY_CONFIG_FILE": str(config)})
    assert s.api_keys == ("key-aaaaaaaaaaaaaaa1", "key-bbbbbbbbbbbbbbb2")


@pytest.mark.parametrize("yaml_value", ["[key-aaaaaaaaaaaaaaa1, 12345]", "{a: b}", "[[x]]"])
def test_a_yaml_key_value_that_is_not_strings_is_refused_without_quoting_it(tmp_path,
                                                                           yaml_value):
    config = tmp_path / "gw.yaml"
    config.write_text(f"API_KEY: {yaml_value}\n")
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"GATEWAY_CONFIG_FILE": str(config)})
    assert "API_KEY: must be a string (comma-separated keys) or a YAML list of strings" \
        in str(info.value)
    assert "aaaa" not in str(info.value)


@pytest.mark.parametrize("key", ["short-key", "key with a space inside", "k\x01" * 8,
                                 "ключ-ключ-ключ-ключ"])
def test_malformed_keys_are_refused_at_start_without_quoting_them(key):
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"API_KEY": key})
    assert "API_KEY: a key" in str(info.value)
    assert key not in str(info.value)


@pytest.mark.parametrize("name, value", [
    ("IMAGE_FETCH_MAX_TOTAL_BYTES", "1000"), ("IMAGE_FETCH_BUDGET_BYTES", "1000"),
    ("REQUEST_BODY_BUDGET_BYTES", "1000"), ("REQUEST_HEAD_TIMEOUT_SECONDS", "0"),
    ("REQUEST_BODY_TIMEOUT_SECONDS", "0"), ("KEEPALIVE_TIMEOUT_SECONDS", "0"),
    ("IMAGE_FETCH_CONCURRENCY", "0")])
def test_limits_are_validated_with_their_names(name, value):
    with pytest.raises(SettingsError) as info:
        Settings.from_env({name: value})
    assert name in str(info.value)


def test_readme_documents_every_setting():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", readme, flags=re.MULTILINE))
    assert set(setting_names()) <= documented, set(setting_names()) - documented


# --- every setting's valid range --------------------------------------------------------------

BAD_VALUES = [
    ("PORT", "70000", "PORT must be a port number"),
    ("PORT", "-1", "PORT must be a port number"),
    ("METRICS_PORT", "65536", "METRICS_PORT must be a port number"),
    ("BEDROCK_CONNECT_TIMEOUT_SECONDS", "0", "BEDROCK_CONNECT_TIMEOUT_SECONDS must be greater"),
    ("BEDROCK_READ_TIMEOUT_SECONDS", "-3", "BEDROCK_READ_TIMEOUT_SECONDS must be greater"),
    ("BEDROCK_MAX_ATTEMPTS", "0", "BEDROCK_MAX_ATTEMPTS must be at least 1"),
    ("REQUEST_TIMEOUT_SECONDS", "0", "REQUEST_TIMEOUT_SECONDS must be greater"),
    ("MODEL_REFRESH_SECONDS", "0", "MODEL_REFRESH_SECONDS must be greater"),
    ("API_KEY_REFRESH_SECONDS", "0", "API_KEY_REFRESH_SECONDS must be greater"),
    ("MAX_CONCURRENT_REQUESTS", "0", "MAX_CONCURRENT_REQUESTS must be at least 1"),
    ("MAX_STREAMS_PER_REGION", "-5", "MAX_STREAMS_PER_REGION must be at least 1"),
    ("REGION_QUEUE_TIMEOUT_SECONDS", "0", "REGION_QUEUE_TIMEOUT_SECONDS must be greater"),
    ("MAX_REQUEST_BODY_BYTES", "0", "MAX_REQUEST_BODY_BYTES must be at least 1"),
    ("STREAM_IDLE_TIMEOUT", "0", "STREAM_IDLE_TIMEOUT must be greater"),
    ("SSE_HEARTBEAT_SECONDS", "0", "SSE_HEARTBEAT_SECONDS must be greater"),
    ("SSE_HEARTBEAT_SECONDS", "nan", "SSE_HEARTBEAT_SECONDS: expected a finite number"),
    ("SHUTDOWN_GRACE_SECONDS", "-1", "SHUTDOWN_GRACE_SECONDS must not be negative"),
    ("DRAIN_DELAY_SECONDS", "inf", "DRAIN_DELAY_SECONDS: expected a finite number"),
    ("REASONING_BUDGET_LOW", "-1", "REASONING_BUDGET_LOW must be at least 1024"),
    ("REASONING_BUDGET_MEDIUM", "100", "REASONING_BUDGET_MEDIUM must be at least 1024"),
    ("REASONING_BUDGET_HIGH", "x", "REASONING_BUDGET_HIGH: expected a number"),
    ("IMAGE_FETCH_MAX_BYTES", "0", "IMAGE_FETCH_MAX_BYTES must be at least 1"),
    ("IMAGE_FETCH_TIMEOUT_SECONDS", "0", "IMAGE_FETCH_TIMEOUT_SECONDS must be greater"),
    ("EMBEDDING_CONCURRENCY", "0", "EMBEDDING_CONCURRENCY must be at least 1"),
    ("BREAKER_FAILURE_THRESHOLD", "0", "BREAKER_FAILURE_THRESHOLD must be at least 1"),
    ("BREAKER_COOLDOWN_SECONDS", "0", "BREAKER_COOLDOWN_SECONDS must be greater"),
    ("THROTTLE_BACKOFF_SECONDS", "-1", "THROTTLE_BACKOFF_SECONDS must not be negative"),
    ("TRUSTED_PROXY_COUNT", "-1", "TRUSTED_PROXY_COUNT must not be negative"),
    ("LOG_LEVEL", "LOUD", "LOG_LEVEL must be a logging level name"),
    ("HOST", " ", "HOST must not be empty"),
    ("DEFAULT_MODEL", "", "DEFAULT_MODEL must not be empty"),
    ("DEFAULT_EMBEDDING_MODEL", " ", "DEFAULT_EMBEDDING_MODEL must not be empty"),
    ("AWS_REGION", "US East", "AWS_REGION / BEDROCK_REGIONS must be region names"),
    ("BEDROCK_REGIONS", "us-east-1,us-east-1", "BEDROCK_REGIONS lists a region twice"),
    ("API_ROUTE_PREFIX", "api", "API_ROUTE_PREFIX must start with '/'"),
    ("GUARDRAIL_IDENTIFIER", "gr-1", "GUARDRAIL_IDENTIFIER and GUARDRAIL_VERSION"),
    ("MODEL_ALIASES_FILE", "/nonexistent/aliases.yaml", "MODEL_ALIASES_FILE '/nonexistent"),
    ("DEBUG", "perhaps", "DEBUG: expected true/false"),
]


@pytest.mark.parametrize("name, raw, message", BAD_VALUES,
                         ids=[f"{n}={v!r}" for n, v, _ in BAD_VALUES])
def test_each_bad_value_is_refused_naming_the_setting(name, raw, message):
    with pytest.raises(SettingsError) as info:
        Settings.from_env({name: raw})
    assert message in str(info.value)
    assert "\n" not in str(info.value)  # one line: printed as is when the process exits


def test_every_numeric_setting_has_a_range_rule():
    import dataclasses

    from bedrock_gateway.settings_ranges import RANGE_RULES

    ruled = {name for name, _, _ in RANGE_RULES}
    numeric = {f.name.upper() for f in dataclasses.fields(Settings)
               if f.type in ("int", "float")}
    assert numeric == ruled


def test_boundary_values_are_accepted():
    s = Settings.from_env({"PORT": "0", "METRICS_PORT": "0", "DRAIN_DELAY_SECONDS": "0",
                           "SHUTDOWN_GRACE_SECONDS": "0", "THROTTLE_BACKOFF_SECONDS": "0",
                           "REASONING_BUDGET_LOW": "1024", "SSE_HEARTBEAT_SECONDS": "0.05",
                           "BEDROCK_REGIONS": "us-east-1, us-gov-west-1, ap-southeast-2",
                           "GUARDRAIL_IDENTIFIER": "gr-1", "GUARDRAIL_VERSION": "1"})
    assert s.port == 0 and s.reasoning_budget_low == 1024


def test_metrics_port_must_differ_from_the_api_port():
    with pytest.raises(SettingsError, match="METRICS_PORT must differ from PORT"):
        Settings.from_env({"PORT": "9000", "METRICS_PORT": "9000"})


def test_unknown_yaml_keys_are_refused_by_name(tmp_path):
    config = tmp_path / "gw.yaml"
    config.write_text("PORT: 9001\nSSE_HEARTBEAT_SECOND: 5\nbreaker_cooldown: 3\n")
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"GATEWAY_CONFIG_FILE": str(config)})
    assert "unknown setting(s) BREAKER_COOLDOWN, SSE_HEARTBEAT_SECOND" in str(info.value)


def test_yaml_values_get_the_same_range_checks(tmp_path):
    config = tmp_path / "gw.yaml"
    config.write_text("SSE_HEARTBEAT_SECONDS: 0\nREASONING_BUDGET_HIGH: -5\n")
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"GATEWAY_CONFIG_FILE": str(config)})
    assert "SSE_HEARTBEAT_SECONDS" in str(info.value)
    assert "REASONING_BUDGET_HIGH" in str(info.value)


def test_existing_aliases_file_is_accepted(tmp_path):
    aliases = tmp_path / "aliases.yaml"
    aliases.write_text("fast: anthropic.claude-3-haiku-20240307-v1:0\n")
    assert Settings.from_env({"MODEL_ALIASES_FILE": str(aliases)}).model_aliases_file
