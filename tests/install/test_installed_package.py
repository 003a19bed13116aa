"""From a clean checkout to a running gateway the way a platform team installs it: a fresh
virtualenv, `pip install -r requirements/lock.txt` (hashed, resolved: no --no-deps), then
`pip install .`, then `pip check`; the installed console script then serves real requests against
the emulator, including native structured output (botocore new enough on this install path).

`make test` builds that virtualenv once (`make installed`, .venv-installed) and runs the whole
end-to-end suite against it (BEDROCK_GATEWAY_TEST_PYTHON); these tests check that this is so and
that the installed copy is this checkout's code. Run alone (`pytest tests/install`), they build a
virtualenv of their own (a virtualenv and ~40 wheels; pip's cache makes it about a minute).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from openai import AsyncOpenAI

import bedrock_gateway
from tests.support.constants import HAIKU, TEST_KEY
from tests.support.local_http import free_port, wait_ready
from tests.support.interpreter import INSTALLED_PYTHON_ENV, gateway_interpreter, gateway_python

ROOT = Path(__file__).resolve().parents[2]
NATIVE_JSON_MODEL = "openai.gpt-oss-120b-1:0"
SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}

pytestmark = pytest.mark.timeout(900)


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=800, check=False)
    output = f"{result.stdout[-3000:]}{result.stderr[-3000:]}"
    assert result.returncode == 0, f"{' '.join(args)}:\n{output}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv holding the package as `pip install .` puts it there, on the lock's pins:
    the one `make installed` built (then only `pip check` runs again), or a new one."""
    if os.environ.get(INSTALLED_PYTHON_ENV):
        venv = Path(os.environ[INSTALLED_PYTHON_ENV]).parents[1]
        _run([str(venv / "bin/python"), "-m", "pip", "--disable-pip-version-check", "check"],
             cwd=venv)
        return venv
    work = tmp_path_factory.mktemp("install")
    venv = work / "v"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=work)
    pip = [str(venv / "bin/python"), "-m", "pip", "--disable-pip-version-check"]
    _run([*pip, "install", "--quiet", "-r", str(ROOT / "requirements/lock.txt")], cwd=work)
    _run([*pip, "install", "--quiet", str(ROOT)], cwd=work)
    _run([*pip, "check"], cwd=work)
    return venv


def test_pip_check_and_installed_metadata(installed: Path):
    """pip check passed in the fixture; the installed copy (not this checkout) is the one used,
    its version is the package's one version string, and its botocore knows outputConfig."""
    python = str(installed / "bin/python")
    probe = _run([python, "-c", (
        "import bedrock_gateway, importlib.metadata as m, botocore.session as s;"
        "print(bedrock_gateway.__file__);"
        "print(m.version('bedrock-gateway'));"
        "print('aioboto3' in {d.metadata['Name'] for d in m.distributions()});"
        "shape = s.get_session().get_service_model('bedrock-runtime')"
        ".operation_model('Converse').input_shape;"
        "print('outputConfig' in shape.members)")], cwd=installed).stdout.split()
    assert Path(probe[0]).is_relative_to(installed), probe[0]
    assert probe[1:] == [bedrock_gateway.__version__, "False", "True"]
    version = _run([str(installed / "bin/bedrock-gateway"), "--version"], cwd=installed).stdout
    assert version.split() == ["bedrock-gateway", bedrock_gateway.__version__]


async def test_installed_gateway_serves_the_e2e_basics(installed: Path, emulator):
    port = free_port()
    env = {**os.environ, "API_KEY": TEST_KEY, "PORT": str(port), "METRICS_PORT": "0",
           "DRAIN_DELAY_SECONDS": "0", "ACCESS_LOG": "off", "DEFAULT_MODEL": HAIKU}
    env.pop("PYTHONPATH", None)
    # A plain Popen: the gateway runs for the whole test and is waited for in a thread.
    proc = subprocess.Popen([str(installed / "bin/bedrock-gateway"), "--host", "127.0.0.1"],  # noqa: ASYNC220
                            env=env, cwd=installed, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(f"{base}/ready", within=60)
        async with AsyncOpenAI(base_url=f"{base}/api/v1", api_key=TEST_KEY,
                               max_retries=0, timeout=30) as client:
            models = {m.id for m in (await client.models.list()).data}
            assert {HAIKU, NATIVE_JSON_MODEL} <= models
            reply = await client.chat.completions.create(
                model=HAIKU, messages=[{"role": "user", "content": "hello"}])
            assert reply.choices[0].message.content and reply.choices[0].finish_reason == "stop"
            stream = await client.chat.completions.create(
                model=HAIKU, stream=True,
                messages=[{"role": "user", "content": "count [[emu chunks=5]]"}])
            chunks = [c async for c in stream]
            assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            assert chunks[-1].choices[0].finish_reason == "stop"
            embedding = await client.embeddings.create(model="cohere.embed-english-v3",
                                                       input=["a", "b"])
            assert len(embedding.data) == 2 and embedding.data[0].embedding
            await emulator.reset()
            structured = await client.chat.completions.create(
                model=NATIVE_JSON_MODEL, messages=[{"role": "user", "content": "who?"}],
                response_format={"type": "json_schema", "json_schema": {
                    "name": "person", "schema": SCHEMA, "strict": True}})
            assert "name" in json.loads(structured.choices[0].message.content)
        (request,) = [r["request"] for r in (await emulator.stats())["recent"]
                      if r["operation"].startswith("converse")]
        assert "outputConfig" in request, "native structured output on the pip-installed path"
    finally:
        proc.terminate()
        try:
            await asyncio.to_thread(proc.wait, 20)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert proc.returncode == 0, proc.stderr.read().decode()[-2000:] if proc.stderr else ""


def test_the_e2e_suite_drives_the_installed_copy(installed: Path):
    """Under `make test`, every gateway the e2e tests run is the installed copy: the ones in this
    process (the package is imported from the installed virtualenv, not this checkout) and the
    ones started as processes (the installed interpreter, from this checkout's directory, still
    imports its own copy); and that copy is byte for byte this checkout's code."""
    if not os.environ.get(INSTALLED_PYTHON_ENV):
        pytest.skip(f"{INSTALLED_PYTHON_ENV} is set by `make test`; plain pytest uses the checkout")
    site = installed.resolve()
    assert Path(gateway_python()).parents[1] == installed
    in_process = Path(bedrock_gateway.__file__).resolve().parent
    assert in_process.is_relative_to(site) and "site-packages" in in_process.parts, in_process
    probe = "import bedrock_gateway; print(bedrock_gateway.__file__)"
    where = subprocess.run([*gateway_interpreter(), "-c", probe], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.strip()
    assert Path(where).resolve().parent == in_process, where
    checkout = {p.relative_to(ROOT / "bedrock_gateway"): p.read_bytes()
                for p in (ROOT / "bedrock_gateway").rglob("*.py")}
    copy = {p.relative_to(in_process): p.read_bytes() for p in in_process.rglob("*.py")}
    assert copy == checkout, sorted(set(copy) ^ set(checkout)) or [
        str(k) for k in checkout if copy.get(k) != checkout[k]]
