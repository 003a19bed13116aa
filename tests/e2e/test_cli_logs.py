"""The command line and the application log, on the real `python -m bedrock_gateway` process:
--help (every setting of the table), --version, --print-config (secrets redacted), the one
start-up summary line, the incumbent-settings warning, and LOG_FORMAT=json."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess

import yaml

import bedrock_gateway
from bedrock_gateway.settings import setting_names
from bedrock_gateway.settings_table import SETTINGS_TABLE
from tests.support.constants import HAIKU, TEST_KEY
from tests.support.local_http import free_port, wait_ready
from tests.support.gateway_process import spawn_gateway
from tests.support.interpreter import gateway_command


def cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items()
               if k not in {name for name, _, _ in SETTINGS_TABLE}}
    return subprocess.run([*gateway_command(), *args],
                          env={**environ, **env}, capture_output=True, text=True, timeout=60,
                          check=False)


def test_help_lists_every_setting():
    result = cli("--help")
    assert result.returncode == 0
    for name in setting_names():
        assert f"\n  {name} (default " in result.stdout, name
    for flag in ("--host", "--port", "--metrics-port", "--version", "--print-config"):
        assert flag in result.stdout


def test_version_is_the_package_version():
    result = cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"bedrock-gateway {bedrock_gateway.__version__}"


def test_print_config_redacts_secrets_and_round_trips(tmp_path):
    secret = "sk-very-secret-value-123"
    result = cli("--print-config", "--port", "9001", API_KEY=f"{secret},other-key-0123456789",
                 BEDROCK_REGIONS="us-east-1,us-west-2", LOG_FORMAT="json")
    assert result.returncode == 0, result.stderr
    assert secret not in result.stdout and "other-key" not in result.stdout
    config = yaml.safe_load(result.stdout)
    assert config["API_KEY"] == "<redacted: 2 key(s)>"
    assert config["PORT"] == 9001  # the flag wins
    assert config["BEDROCK_REGIONS"] == "us-east-1,us-west-2"
    assert set(config) == set(setting_names()) - {"OPENAI_API_KEY", "GATEWAY_CONFIG_FILE"}
    # The output is a valid GATEWAY_CONFIG_FILE (once a real key replaces the redaction).
    config["API_KEY"] = "key-0123456789abcdef"
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(config))
    again = cli("--print-config", GATEWAY_CONFIG_FILE=str(path))
    assert again.returncode == 0, again.stderr
    assert yaml.safe_load(again.stdout) == {**config, "API_KEY": "<redacted: 1 key(s)>"}


def test_print_config_names_a_bad_setting():
    result = cli("--print-config", LOG_FORMAT="xml", ALLOWED_ORIGINS="https://ok.example,nope")
    assert result.returncode == 2
    assert "LOG_FORMAT" in result.stderr and "ALLOWED_ORIGINS" in result.stderr
    assert "'nope'" in result.stderr


async def test_json_logs_summary_line_and_incumbent_warning(emulator):
    port = free_port()
    env = {**os.environ, "API_KEY": TEST_KEY, "PORT": str(port), "METRICS_PORT": "0",
           "DRAIN_DELAY_SECONDS": "0", "ACCESS_LOG": "off", "DEFAULT_MODEL": HAIKU,
           "LOG_FORMAT": "json", "TITLE": "My gateway"}
    proc = spawn_gateway(env, "--host", "127.0.0.1", stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    try:
        await wait_ready(f"http://127.0.0.1:{port}/ready", within=30)
    finally:
        proc.terminate()
        _, stderr = await asyncio.to_thread(proc.communicate, timeout=20)
    assert proc.returncode == 0, stderr
    records = [json.loads(line) for line in stderr.splitlines()]  # every line is one JSON object
    for record in records:
        assert {"time", "level", "logger", "message"} <= set(record)
    [warning] = [r for r in records if r["level"] == "WARNING" and "TITLE" in r["message"]]
    assert "not used" in warning["message"]
    [summary] = [r for r in records if "listening on" in r["message"]]
    assert summary["message"].startswith(
        f"bedrock-gateway {bedrock_gateway.__version__} listening on http://127.0.0.1:{port}/api/v1")
    for part in ("regions=us-east-1", f"default_model={HAIKU}", "keys=API_KEY", "cors=*",
                 "log_format=json", "metrics=off"):
        assert part in summary["message"]
    # Start-up's objects (botocore's models among them) are out of the collector's way.
    [frozen] = [r for r in records if "frozen for the garbage collector" in r["message"]]
    assert int(frozen["message"].rsplit(" ", 1)[1]) > 50_000
    assert TEST_KEY not in stderr
