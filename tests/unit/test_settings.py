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
    assert "secret-value-0123456" not in repr(Settings.from_env({"API_KEY": "secret-value-0123456"}))


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
