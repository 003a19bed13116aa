"""Strict API key parsing: a key source holds well-formed keys or fails as a whole, and its error
never quotes the text (it may be a key)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bedrock_gateway.auth import MIN_API_KEY_LENGTH, KeyFormatError, keys_from_text

KEY_A = "sk-aaaaaaaaaaaaaaaa"
KEY_B = "sk-bbbbbbbbbbbbbbbb"


@pytest.mark.parametrize("text, keys", [
    (f'{{"api_key": "{KEY_A}"}}', [KEY_A]),
    (f'{{"api_keys": ["{KEY_A}", "{KEY_B}"]}}', [KEY_A, KEY_B]),
    (f'["{KEY_A}", "{KEY_B}"]', [KEY_A, KEY_B]),
    (f"{KEY_A}\n{KEY_B}\n", [KEY_A, KEY_B]),
    (f" {KEY_A} , {KEY_B} ", [KEY_A, KEY_B]),
])
def test_well_formed_sources(text, keys):
    assert keys_from_text(text) == keys


@pytest.mark.parametrize("text", [
    '{"api_key": [null]}',  # once turned into the key "None"
    '{"api_key": ["sk-aaaaaaaaaaaaaaaa"]}',
    '{"api_key": 12345678901234567890}',
    '{"api_keys": [null, "sk-aaaaaaaaaaaaaaaa"]}',
    '{"api_keys": "sk-aaaaaaaaaaaaaaaa"}',
    '{"apikey": "sk-aaaaaaaaaaaaaaaa"}',
    '{"api_key": "sk-aaaaaaaaaaaaaaaa"',  # cut JSON
    '[1, 2]',
    '{}',
    "",
    "tiny-key",
    "sk-aaaaaaaaaaaaaaaa\ntiny-key",
    "sk-aaaa aaaaaaaaaaaaaaa",
])
def test_anything_else_is_a_failure_that_names_the_source_not_the_text(text):
    with pytest.raises(KeyFormatError) as info:
        keys_from_text(text, "API_KEY_SECRET_ARN")
    message = str(info.value)
    assert message.startswith("API_KEY_SECRET_ARN: ")
    assert "aaaaaaaa" not in message and "tiny-key" not in message


def test_minimum_length_is_documented():
    readme = Path("README.md").read_text()
    assert f"at least {MIN_API_KEY_LENGTH} characters" in readme
