"""CORS as a browser sees it: a real headless Chromium loads a page from another origin, which
calls the gateway (on the emulator) with fetch(): the browser sends the preflight, then reads a
streamed completion chunk by chunk and writes what it got into the DOM, dumped with --dump-dom.

Chromium is installed by `make tools` (Debian package `chromium`); without it the test fails in
CI and is skipped elsewhere, like the other external tools.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import re
import shutil

import orjson
import pytest
from aiohttp import web

from bedrock_gateway.emulator.script import reply_text
from tests.support.constants import HAIKU, TEST_KEY

PAGE = """<!doctype html>
<html><body><pre id="result">pending</pre>
<script>
(async () => {
  const out = document.getElementById("result");
  try {
    const response = await fetch(%(url)s, {
      method: "POST",
      headers: {"Authorization": "Bearer %(key)s", "Content-Type": "application/json"},
      body: JSON.stringify({model: %(model)s, stream: true,
                            messages: [{role: "user", content: "browser [[emu chunks=5]]"}]}),
    });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let raw = "", reads = 0;
    for (;;) {
      const {done, value} = await reader.read();
      if (done) break;
      reads += 1;
      raw += decoder.decode(value, {stream: true});
    }
    let text = "", done = false;
    for (const event of raw.split("\\n\\n")) {
      if (!event.startsWith("data: ")) continue;
      const data = event.slice(6);
      if (data === "[DONE]") { done = true; continue; }
      const chunk = JSON.parse(data);
      for (const choice of chunk.choices) text += choice.delta.content || "";
    }
    out.textContent = JSON.stringify({status: response.status, text, done, reads,
                                      requestId: response.headers.get("X-Request-Id")});
  } catch (error) {
    out.textContent = JSON.stringify({error: String(error)});
  }
})();
</script></body></html>
"""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    message = "`chromium` is not installed: run `make tools` (scripts/install-tools.sh)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


async def serve_page(gateway_url: str) -> tuple[web.AppRunner, str]:
    """The page, on its own origin (another port is another origin)."""
    body = PAGE % {"url": json.dumps(f"{gateway_url}/api/v1/chat/completions"),
                   "key": TEST_KEY, "model": json.dumps(HAIKU)}

    async def page(_: web.Request) -> web.Response:
        return web.Response(text=body, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/"


async def browser_result(page_url: str, tmp_path) -> dict:
    """Load the page in headless Chromium; the JSON the page wrote into #result."""
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-dev-shm-usage", "--disable-extensions",
               f"--user-data-dir={tmp_path / 'profile'}",
               # Keep the page alive until the fetch settles (virtual time waits for the network).
               "--virtual-time-budget=20000", "--dump-dom", page_url]
    proc = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=90)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    match = re.search(r'<pre id="result">(.*?)</pre>', stdout.decode(), flags=re.DOTALL)
    assert match, f"no result in the DOM:\n{stdout.decode()[-2000:]}\n{stderr.decode()[-2000:]}"
    return json.loads(html.unescape(match.group(1)))


def access_lines(captured: str) -> list[dict]:
    return [orjson.loads(line) for line in captured.splitlines()
            if line.startswith("{") and '"request_id"' in line]


async def test_browser_reads_a_streamed_completion_cross_origin(make_gateway, tmp_path, capsys):
    gateway = await make_gateway(access_log=True)  # ALLOWED_ORIGINS default: "*"
    runner, page_url = await serve_page(gateway.root)
    try:
        result = await browser_result(page_url, tmp_path)
    finally:
        await runner.cleanup()
    assert "error" not in result, result
    assert result["status"] == 200 and result["done"] is True
    assert result["text"] == reply_text("browser", 5), result
    assert result["requestId"], "X-Request-Id is exposed to the page"
    lines = access_lines(capsys.readouterr().out)
    methods = [(line["method"], line["status"]) for line in lines
               if line["path"] == "/api/v1/chat/completions"]
    assert methods == [("OPTIONS", 204), ("POST", 200)], "the browser sent the preflight first"


async def test_browser_is_refused_for_an_origin_not_listed(make_gateway, tmp_path):
    gateway = await make_gateway(allowed_origins=("https://only-this.example",))
    runner, page_url = await serve_page(gateway.root)
    try:
        result = await browser_result(page_url, tmp_path)
    finally:
        await runner.cleanup()
    assert "TypeError" in result.get("error", ""), result  # the browser blocked it
