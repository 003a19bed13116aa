"""Adoption basics: the license the package declares, a changelog for the current version, a
troubleshooting page whose entries each give a cause and a fix, the migration guide naming the
incumbent's settings, compose in the README, and no `_created` series in /metrics."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

from prometheus_client import generate_latest

import bedrock_gateway
from bedrock_gateway.settings import setting_names
from bedrock_gateway.settings_sources import INCUMBENT_IGNORED
from bedrock_gateway.telemetry.metrics import GatewayMetrics

ROOT = Path(__file__).resolve().parents[2]


def test_license_is_the_declared_mit_0():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    assert config["metadata"]["license"] == "MIT-0"
    assert config["metadata"]["license_files"].strip() == "LICENSE"
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT No Attribution\n")
    assert "without restriction" in text and "WITHOUT WARRANTY OF ANY KIND" in text


def test_changelog_covers_the_current_version():
    text = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in text
    assert f"## [{bedrock_gateway.__version__}]" in text


def test_troubleshooting_has_ten_entries_with_cause_and_fix():
    text = (ROOT / "docs/troubleshooting.md").read_text()
    sections = re.split(r"^## ", text, flags=re.MULTILINE)[1:]
    assert len(sections) >= 10
    for section in sections:
        title = section.splitlines()[0]
        assert "**Cause:**" in section and "**Fix:**" in section, title
    for must in ("API key", "credentials", "access_denied", "throttled", "proxy", "CORS"):
        assert must in text, must


def test_migration_guide_names_the_incumbent_settings():
    readme = (ROOT / "README.md").read_text()
    guide = readme[readme.index("## Migrating from the Bedrock Access Gateway"):]
    guide = guide[:guide.index("\n## ", 10)]
    kept = re.search(r"^\| settings kept \| (.*?) \|", guide, flags=re.MULTILINE).group(1)
    names = re.findall(r"`([A-Z_]+)`", kept)
    assert names and set(names) <= set(setting_names()), set(names) - set(setting_names())
    for name in INCUMBENT_IGNORED:
        assert f"`{name}`" in guide, name
    for topic in ("paths", "API key", "CORS", "deployment"):
        assert topic in guide


def test_readme_shows_compose_and_docker_run():
    readme = (ROOT / "README.md").read_text()
    assert "docker compose -f docker/compose.yaml up" in readme
    assert "docker run" in readme and "docs/troubleshooting.md" in readme


def test_no_created_series():
    metrics = GatewayMetrics(version="test")
    metrics.request_finished(route="chat", model=None, status=200, error_code=None,
                             duration_s=0.1, streaming=False)
    text = generate_latest(metrics.registry).decode()
    assert "bedrock_gateway_requests_total" in text
    assert "_created" not in text
