"""A real Claude Code CLI (`@anthropic-ai/claude-code`, installed by `make tools` into
.tools/npm) through the gateway on the emulator, headless (`claude -p`): once through the
Anthropic Messages format (ANTHROPIC_BASE_URL) and once through Bedrock's InvokeModel format
(CLAUDE_CODE_USE_BEDROCK, ANTHROPIC_BEDROCK_BASE_URL, CLAUDE_CODE_SKIP_BEDROCK_AUTH).

The prompt's emulator directive makes the model call Claude Code's Read tool on a file holding a
random token; the emulated Claude answers the tool result by quoting it, so the final output can
only hold the token if Claude Code really ran the tool and sent its result back through the
gateway."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from pathlib import Path

import pytest

from tests.support.constants import TEST_KEY

CLAUDE = Path(__file__).parents[2] / ".tools" / "npm" / "node_modules" / ".bin" / "claude"
TIMEOUT_S = 90


async def run_claude(env: dict[str, str], prompt: str, cwd: Path) -> tuple[int, str, str]:
    assert CLAUDE.exists(), f"{CLAUDE} is missing: run `make tools` (scripts/install-tools.sh)"
    proc = await asyncio.create_subprocess_exec(
        str(CLAUDE), "-p", prompt, "--allowedTools", "Read", "--output-format", "text",
        cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return proc.returncode or 0, out.decode(), err.decode()


def base_env(home: Path) -> dict[str, str]:
    """Nothing from the developer's own environment: a fresh HOME, no AWS or Anthropic keys."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
            "DISABLE_TELEMETRY": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1", "NO_COLOR": "1"}


@pytest.fixture
def secret_file(tmp_path: Path) -> tuple[Path, str]:
    token = f"TOKEN-{secrets.token_hex(8)}"
    work = tmp_path / "work"
    work.mkdir()
    path = work / "secret.txt"
    path.write_text(token + "\n")
    return path, token


def read_prompt(path: Path) -> str:
    args = json.dumps({"file_path": str(path)})
    return f"What does the file secret.txt say? [[emu tool=Read:{args}]]"


async def model_calls(emulator) -> list[dict]:
    return [r for r in (await emulator.stats())["recent"] if r["model"]]


def answers_a_tool(call: dict) -> bool:
    """The request's last turn carries a tool result (`tool_result`, `tool_result:cached`)."""
    blocks = call["request"]["messages"][-1]["blocks"]
    return bool(blocks) and blocks[0].startswith("tool_result")


async def test_claude_code_through_the_messages_format(gateway, emulator, tmp_path, secret_file):
    path, token = secret_file
    env = {**base_env(tmp_path / "home"), "ANTHROPIC_BASE_URL": gateway.root,
           "ANTHROPIC_API_KEY": TEST_KEY, "ANTHROPIC_MODEL": "claude-sonnet-4-5",
           "ANTHROPIC_SMALL_FAST_MODEL": "claude-haiku-4-5"}
    code, out, err = await run_claude(env, read_prompt(path), path.parent)
    assert code == 0, err
    assert token in out  # only the Read tool could have seen it
    calls = await model_calls(emulator)
    tool_turns = [c for c in calls if answers_a_tool(c)]
    assert tool_turns and all(c["operation"] == "invoke-stream" for c in calls)
    assert "claude-code-20250219" in (tool_turns[0]["request"]["anthropic_beta"] or [])


async def test_claude_code_through_the_bedrock_format(gateway, emulator, tmp_path, secret_file):
    path, token = secret_file
    env = {**base_env(tmp_path / "home"), "CLAUDE_CODE_USE_BEDROCK": "1",
           "ANTHROPIC_BEDROCK_BASE_URL": gateway.root + "/bedrock",
           "CLAUDE_CODE_SKIP_BEDROCK_AUTH": "1", "AWS_REGION": "us-east-1",
           "ANTHROPIC_AUTH_TOKEN": TEST_KEY,
           "ANTHROPIC_MODEL": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
           "ANTHROPIC_SMALL_FAST_MODEL": "us.anthropic.claude-haiku-4-5-20251001-v1:0"}
    code, out, err = await run_claude(env, read_prompt(path), path.parent)
    assert code == 0, err
    assert token in out
    calls = await model_calls(emulator)
    assert calls and all(c["operation"] == "invoke-stream" for c in calls)
    assert any(answers_a_tool(c) for c in calls)
