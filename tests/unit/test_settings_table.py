"""The settings table is one source: the README shows exactly its rows, --help is built from it,
and every variable the gateway reads is in it."""

from __future__ import annotations

import re
from pathlib import Path

from bedrock_gateway.settings import setting_names
from bedrock_gateway.settings_table import SETTINGS_TABLE, help_text, markdown_rows

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_rows() -> list[str]:
    return [line for line in README.read_text().splitlines()
            if re.match(r"^\| `[A-Z0-9_]+` \|", line)]


def test_readme_table_is_the_settings_table():
    assert readme_rows() == markdown_rows(), (
        "README's settings table and bedrock_gateway/settings_table.py differ: change both "
        "(the table in the module is what --help prints)")


def test_every_setting_is_in_the_table_once():
    names = [name for name, _, _ in SETTINGS_TABLE]
    assert len(names) == len(set(names))
    assert set(setting_names()) == set(names)


def test_help_text_has_no_markdown():
    text = help_text()
    assert "`" not in text and "**" not in text
    assert all(len(line) <= 110 for line in text.splitlines()[1:])


def test_new_settings_are_validated_with_their_names():
    import pytest

    from bedrock_gateway.settings import Settings, SettingsError

    for env, name in (({"DEFAULT_MAX_TOKENS": "many"}, "DEFAULT_MAX_TOKENS"),
                      ({"DEFAULT_MAX_TOKENS": "0"}, "DEFAULT_MAX_TOKENS"),
                      ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
                      ({"ALLOWED_ORIGINS": "https://a.example/path"}, "ALLOWED_ORIGINS"),
                      ({"ALLOWED_ORIGINS": "a.example"}, "ALLOWED_ORIGINS")):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env(env)
    settings = Settings.from_env({"DEFAULT_MAX_TOKENS": "", "ALLOWED_ORIGINS": "",
                                  "LOG_FORMAT": "JSON"})
    assert (settings.default_max_tokens, settings.allowed_origins, settings.log_format) == (
        None, (), "json")
    assert Settings.from_env({}).allowed_origins == ("*",)
    ok = Settings.from_env({"ALLOWED_ORIGINS": "https://a.example, http://localhost:3000"})
    assert ok.allowed_origins == ("https://a.example", "http://localhost:3000")
