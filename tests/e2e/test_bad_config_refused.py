"""Bad configuration stops the real process at start: exit code 2 and one line naming the
setting, never a traceback (and never a gateway that starts and then misbehaves)."""

from __future__ import annotations

import os
import subprocess

import pytest
from tests.support.interpreter import gateway_command

CASES = [
    ({"SSE_HEARTBEAT_SECONDS": "0"}, "SSE_HEARTBEAT_SECONDS must be greater than 0"),
    ({"REASONING_BUDGET_LOW": "-1"}, "REASONING_BUDGET_LOW must be at least 1024"),
    ({"MODEL_ALIASES_FILE": "/nonexistent/aliases.yaml"}, "MODEL_ALIASES_FILE"),
    ({"GATEWAY_CONFIG_FILE": "{config}"}, "unknown setting(s) SSE_HEARTBEAT_SECOND"),
    ({"BREAKER_COOLDOWN_SECONDS": "-5"}, "BREAKER_COOLDOWN_SECONDS must be greater than 0"),
    ({"MODEL_ALIASES_FILE": "{bad_aliases}"}, "MODEL_ALIASES_FILE"),
]


@pytest.mark.parametrize("env, message", CASES, ids=[next(iter(e)) + "=" + next(iter(e.values()))
                                                     for e, _ in CASES])
def test_process_exits_with_one_line_naming_the_setting(tmp_path, env, message):
    config = tmp_path / "gateway.yaml"
    config.write_text("PORT: 9001\nSSE_HEARTBEAT_SECOND: 5\n")  # a typo'd key
    bad_aliases = tmp_path / "aliases.yaml"
    bad_aliases.write_text("- just\n- a list\n")
    env = {k: v.format(config=config, bad_aliases=bad_aliases) for k, v in env.items()}
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("API_KEY", "GATEWAY_"))}
    result = subprocess.run(
        [*gateway_command(), "--port", "0", "--metrics-port", "0"],
        env={**clean, "API_KEY": "sk-test-0123456789", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": "http://127.0.0.1:9",
             "AWS_ENDPOINT_URL_BEDROCK": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "x",
             "AWS_SECRET_ACCESS_KEY": "x", **env},
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("bedrock-gateway: ")
    assert message in lines[0]
    assert "Traceback" not in result.stderr
