"""A real Codex CLI (`@openai/codex`, installed by `make tools` into .tools/npm) in `codex exec`
mode, configured with a custom provider (`wire_api = "responses"`, key from `env_key`) pointing
at the gateway on the emulator.

The emulator's script makes the model call Codex's shell tool (`exec_command`) to read a file
holding a random token, then answer by quoting the tool's output: the final message can contain
the token only if Codex ran the command and sent its output back through the gateway.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from pathlib import Path

import pytest

from tests.support.constants import HAIKU, TEST_KEY

ROOT = Path(__file__).parents[2]
CODEX = ROOT / ".tools" / "npm" / "node_modules" / ".bin" / "codex"


def codex_config(base_url: str) -> str:
    return "\n".join([
        f'model = "{HAIKU}"',
        'model_provider = "gateway"',
        'approval_policy = "never"',
        "",
        "[model_providers.gateway]",
        'name = "bedrock-gateway"',
        f'base_url = "{base_url}"',
        'wire_api = "responses"',
        'env_key = "BEDROCK_GATEWAY_KEY"',
        "request_max_retries = 0",
        "stream_max_retries = 0",
        "",
    ])


async def run_codex(home: Path, workdir: Path, prompt: str) -> tuple[int, str, str]:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "CODEX_HOME": str(home),
           "BEDROCK_GATEWAY_KEY": TEST_KEY, "NO_COLOR": "1", "TERM": "dumb"}
    last = home / "last-message.txt"
    proc = await asyncio.create_subprocess_exec(
        str(CODEX), "exec", "--skip-git-repo-check", "--ephemeral", "--color", "never",
        "-s", "danger-full-access", "-C", str(workdir), "-o", str(last), prompt,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env)
    try:
        async with asyncio.timeout(90):
            out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    text = last.read_text() if last.exists() else ""
    return proc.returncode or 0, text, (out + err).decode(errors="replace")


@pytest.mark.timeout(150)
async def test_codex_exec_runs_a_shell_command_through_the_gateway(make_gateway, emulator,
                                                                   tmp_path, capsys):
    if not CODEX.exists():
        pytest.fail("the Codex CLI is not installed: run `make tools` (npm install into .tools)")
    gateway = await make_gateway(access_log=True)
    home, workdir = tmp_path / "codex-home", tmp_path / "work"
    home.mkdir()
    workdir.mkdir()
    (home / "config.toml").write_text(codex_config(gateway.base_url))
    token = f"tok-{secrets.token_hex(8)}"
    (workdir / "token.txt").write_text(token + "\n")
    prompt = ('Print the file token.txt. [[emu tool=exec_command:{"cmd": "cat token.txt"} '
              'after_tool=quote]]')

    code, last_message, output = await run_codex(home, workdir, prompt)

    assert code == 0, output[-3000:]
    assert token in last_message, output[-3000:]
    recent = (await emulator.stats())["recent"]
    converse = [r["request"] for r in recent if r.get("request")]
    assert len(converse) == 2  # the tool call, then the answer quoting its output
    first, second = converse
    assert "exec_command" in first["tools"]
    # Codex's developer messages became system text; its consecutive user messages one turn.
    assert first["system"] and [m["role"] for m in first["messages"]] == ["user"]
    assert [m["blocks"][-1] for m in second["messages"][-2:]] == ["toolUse", "toolResult"]
    # Codex closes the connection right after response.completed: not a client disconnect.
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()
             if line.startswith("{")]
    posts = [line for line in lines if line["path"].endswith("/responses")]
    assert [(line["status"], line["error_code"]) for line in posts] == [(200, None)] * 2
