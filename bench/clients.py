"""The two ways to make each call: the floor (aiobotocore straight to the emulator) and the gateway
(a raw aiohttp client speaking OpenAI, or Anthropic's Messages API). Each call returns a `Result` and never raises (a phase's
own cancellation aside), so a load run always ends with every request accounted for.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Self

import aiohttp
import orjson
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

CHAT_MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
EMBED_MODEL = "cohere.embed-english-v3"
REQUEST_TIMEOUT = 60.0
_now = time.perf_counter


@dataclass(slots=True)
class Result:
    ok: bool
    latency: float = 0.0  # request start -> last byte
    ttft: float | None = None  # request start -> first non-empty text (streams)
    chunks: int = 0  # content chunks received
    error: str | None = None  # set when not ok; "incomplete: ..." when a stream ended early
    started: float = 0.0  # perf_counter at start

    @property
    def incomplete(self) -> bool:
        return not self.ok and (self.error or "").startswith("incomplete")


def _fail(started: float, exc: BaseException, ttft: float | None = None, chunks: int = 0) -> Result:
    if isinstance(exc, TimeoutError):
        error = f"incomplete: timeout after {REQUEST_TIMEOUT:.0f} s"
    else:
        error = f"{type(exc).__name__}: {str(exc)[:200]}"
    return Result(False, _now() - started, ttft, chunks, error, started)


class FloorClient:
    """One long-lived aiobotocore bedrock-runtime client; the endpoint comes from the environment
    (AWS_ENDPOINT_URL_BEDROCK_RUNTIME), exactly as the gateway's does."""

    def __init__(self, region: str = "us-east-1") -> None:
        self._session = get_session()
        self._region = region
        self._cm = None
        self.client = None

    async def __aenter__(self) -> Self:
        config = AioConfig(max_pool_connections=1200, connect_timeout=10, read_timeout=120,
                           retries={"mode": "standard", "total_max_attempts": 1})
        self._cm = self._session.create_client("bedrock-runtime", region_name=self._region, config=config)
        self.client = await self._cm.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._cm.__aexit__(None, None, None)

    @staticmethod
    def _messages(prompt: str) -> list[dict]:
        return [{"role": "user", "content": [{"text": prompt}]}]

    async def converse(self, prompt: str) -> Result:
        started = _now()
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                response = await self.client.converse(modelId=CHAT_MODEL,
                                                      messages=self._messages(prompt))
            content = response["output"]["message"]["content"]
            if not content or not content[0].get("text"):
                return Result(False, _now() - started, error="empty reply", started=started)
            return Result(True, _now() - started, started=started)
        except Exception as exc:  # noqa: BLE001 - every failure is a counted result
            return _fail(started, exc)

    async def converse_stream(self, prompt: str) -> Result:
        started = _now()
        ttft = None
        chunks = 0
        stopped = False
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                response = await self.client.converse_stream(modelId=CHAT_MODEL,
                                                             messages=self._messages(prompt))
                async for event in response["stream"]:
                    delta = event.get("contentBlockDelta")
                    if delta is not None:
                        if delta["delta"].get("text"):
                            chunks += 1
                            if ttft is None:
                                ttft = _now() - started
                    elif "messageStop" in event:
                        stopped = True
        except Exception as exc:  # noqa: BLE001
            return _fail(started, exc, ttft, chunks)
        if not stopped:
            return Result(False, _now() - started, ttft, chunks, "incomplete: no messageStop",
                          started)
        return Result(True, _now() - started, ttft, chunks, None, started)

    async def invoke_stream(self, prompt: str) -> Result:
        """The Anthropic body through InvokeModelWithResponseStream: the floor of /v1/messages."""
        started = _now()
        ttft = None
        chunks = 0
        stopped = False
        body = orjson.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 1024,
                             "messages": [{"role": "user", "content": prompt}]})
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                response = await self.client.invoke_model_with_response_stream(
                    modelId=CHAT_MODEL, body=body)
                async for event in response["body"]:
                    doc = orjson.loads(event["chunk"]["bytes"])
                    if doc["type"] == "content_block_delta" and doc["delta"].get("text"):
                        chunks += 1
                        if ttft is None:
                            ttft = _now() - started
                    elif doc["type"] == "message_stop":
                        stopped = True
        except Exception as exc:  # noqa: BLE001
            return _fail(started, exc, ttft, chunks)
        if not stopped:
            return Result(False, _now() - started, ttft, chunks, "incomplete: no message_stop",
                          started)
        return Result(True, _now() - started, ttft, chunks, None, started)

    async def embed(self, texts: list[str]) -> Result:
        started = _now()
        body = orjson.dumps({"texts": texts, "input_type": "search_document",
                             "embedding_types": ["float"]})
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                response = await self.client.invoke_model(
                    modelId=EMBED_MODEL, body=body, contentType="application/json",
                    accept="application/json")
                payload = orjson.loads(await response["body"].read())
            vectors = payload["embeddings"]
            vectors = vectors["float"] if isinstance(vectors, dict) else vectors
            if len(vectors) != len(texts):
                return Result(False, _now() - started, error="wrong vector count", started=started)
            return Result(True, _now() - started, started=started)
        except Exception as exc:  # noqa: BLE001
            return _fail(started, exc)


class GatewayClient:
    """A deliberately thin OpenAI client: pre-encoded bodies, SSE split by hand, orjson."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base = base_url.rstrip("/") + "/api/v1"
        self.root = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self._anthropic_headers = {"x-api-key": api_key, "anthropic-version": "2023-06-01",
                                   "Content-Type": "application/json"}
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        connector = aiohttp.TCPConnector(limit=1200, limit_per_host=0, force_close=False)
        self.session = aiohttp.ClientSession(connector=connector,
                                             timeout=aiohttp.ClientTimeout(total=None))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()

    def _chat_body(self, prompt: str, stream: bool) -> bytes:
        return orjson.dumps({"model": CHAT_MODEL, "stream": stream,
                             "messages": [{"role": "user", "content": prompt}]})

    async def chat(self, prompt: str) -> Result:
        started = _now()
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                async with self.session.post(f"{self.base}/chat/completions", headers=self._headers,
                                             data=self._chat_body(prompt, False)) as response:
                    raw = await response.read()
            if response.status != 200:
                return Result(False, _now() - started, error=f"HTTP {response.status}: "
                              f"{raw[:200].decode(errors='replace')}", started=started)
            if not orjson.loads(raw)["choices"][0]["message"].get("content"):
                return Result(False, _now() - started, error="empty reply", started=started)
            return Result(True, _now() - started, started=started)
        except Exception as exc:  # noqa: BLE001
            return _fail(started, exc)

    async def chat_stream(self, prompt: str) -> Result:
        started = _now()
        ttft = None
        chunks = 0
        done = False
        error = None
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                async with self.session.post(f"{self.base}/chat/completions", headers=self._headers,
                                             data=self._chat_body(prompt, True)) as response:
                    if response.status != 200:
                        raw = await response.read()
                        return Result(False, _now() - started, error=f"HTTP {response.status}: "
                                      f"{raw[:200].decode(errors='replace')}", started=started)
                    buffer = b""
                    async for data in response.content.iter_any():
                        buffer += data
                        *events, buffer = buffer.split(b"\n\n")
                        for event in events:
                            if not event.startswith(b"data: "):
                                continue  # ": keep-alive" comments
                            payload = event[6:]
                            if payload == b"[DONE]":
                                done = True
                                continue
                            obj = orjson.loads(payload)
                            choices = obj.get("choices")
                            if choices:
                                if choices[0].get("delta", {}).get("content"):
                                    chunks += 1
                                    if ttft is None:
                                        ttft = _now() - started
                            elif "error" in obj:
                                error = str(obj["error"].get("message") or obj["error"])[:200]
        except Exception as exc:  # noqa: BLE001
            return _fail(started, exc, ttft, chunks)
        if error is not None:
            return Result(False, _now() - started, ttft, chunks, f"incomplete: error event: {error}",
                          started)
        if not done:
            return Result(False, _now() - started, ttft, chunks, "incomplete: no [DONE]", started)
        return Result(True, _now() - started, ttft, chunks, None, started)

    async def responses_stream(self, prompt: str) -> Result:
        """POST /responses, streamed, as Codex calls it (store false): `event:`/`data:` frames,
        chunks are `response.output_text.delta` events, the end is `response.completed`."""
        started = _now()
        ttft = None
        chunks = 0
        done = False
        error = None
        body = orjson.dumps({"model": CHAT_MODEL, "stream": True, "store": False,
                             "input": prompt})
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                async with self.session.post(f"{self.base}/responses", headers=self._headers,
                                             data=body) as response:
                    if response.status != 200:
                        raw = await response.read()
                        return Result(False, _now() - started, error=f"HTTP {response.status}: "
                                      f"{raw[:200].decode(errors='replace')}", started=started)
                    buffer = b""
                    async for data in response.content.iter_any():
                        buffer += data
                        *events, buffer = buffer.split(b"\n\n")
                        for event in events:
                            _, sep, payload = event.partition(b"\ndata: ")
                            if not sep:
                                continue  # ": keep-alive" comments
                            obj = orjson.loads(payload)
                            kind = obj["type"]
                            if kind == "response.output_text.delta":
                                chunks += 1
                                if ttft is None:
                                    ttft = _now() - started
                            elif kind == "response.completed":
                                done = True
                            elif kind in ("response.failed", "error"):
                                error = str(obj.get("message") or obj.get("response"))[:200]
        except Exception as exc:  # noqa: BLE001
            return _fail(started, exc, ttft, chunks)
        if error is not None:
            return Result(False, _now() - started, ttft, chunks, f"incomplete: error event: {error}",
                          started)
        if not done:
            return Result(False, _now() - started, ttft, chunks,
                          "incomplete: no response.completed", started)
        return Result(True, _now() - started, ttft, chunks, None, started)

    async def messages_stream(self, prompt: str) -> Result:
        """POST /v1/messages, streamed, as the Anthropic SDKs send it; SSE split by hand."""
        started = _now()
        ttft = None
        chunks = 0
        stopped = False
        error = None
        body = orjson.dumps({"model": CHAT_MODEL, "max_tokens": 1024, "stream": True,
                             "messages": [{"role": "user", "content": prompt}]})
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                async with self.session.post(f"{self.root}/v1/messages", data=body,
                                             headers=self._anthropic_headers) as response:
                    if response.status != 200:
                        raw = await response.read()
                        return Result(False, _now() - started, error=f"HTTP {response.status}: "
                                      f"{raw[:200].decode(errors='replace')}", started=started)
                    buffer = b""
                    async for data in response.content.iter_any():
                        buffer += data
                        *events, buffer = buffer.split(b"\n\n")
                        for event in events:
                            kind, _, payload = event.partition(b"\ndata: ")
                            if kind == b"event: content_block_delta":
                                if orjson.loads(payload)["delta"].get("text"):
                                    chunks += 1
                                    if ttft is None:
                                        ttft = _now() - started
                            elif kind == b"event: message_stop":
                                stopped = True
                            elif kind == b"event: error":
                                error = payload[:200].decode(errors="replace")
        except Exception as exc:  # noqa: BLE001
            return _fail(started, exc, ttft, chunks)
        if error is not None:
            return Result(False, _now() - started, ttft, chunks, f"incomplete: error event: {error}",
                          started)
        if not stopped:
            return Result(False, _now() - started, ttft, chunks, "incomplete: no message_stop",
                          started)
        return Result(True, _now() - started, ttft, chunks, None, started)

    async def embed(self, texts: list[str]) -> Result:
        started = _now()
        body = orjson.dumps({"model": EMBED_MODEL, "input": texts})
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                async with self.session.post(f"{self.base}/embeddings", headers=self._headers,
                                             data=body) as response:
                    raw = await response.read()
            if response.status != 200:
                return Result(False, _now() - started, error=f"HTTP {response.status}: "
                              f"{raw[:200].decode(errors='replace')}", started=started)
            if len(orjson.loads(raw)["data"]) != len(texts):
                return Result(False, _now() - started, error="wrong vector count", started=started)
            return Result(True, _now() - started, started=started)
        except Exception as exc:  # noqa: BLE001
            return _fail(started, exc)

    async def get(self, path: str) -> tuple[int, bytes]:
        async with self.session.get(self.root + path) as response:
            return response.status, await response.read()


class EmulatorControl:
    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session = session
        self.base = base_url.rstrip("/") + "/_emulator"

    async def _call(self, method: str, path: str, payload: object = None) -> object:
        async with self.session.request(method, f"{self.base}/{path}", json=payload,
                                        timeout=aiohttp.ClientTimeout(total=10)) as response:
            response.raise_for_status()
            raw = await response.read()
            return orjson.loads(raw) if raw.strip() else None

    async def stats(self) -> object:
        return await self._call("GET", "stats")

    async def reset(self) -> None:
        await self._call("POST", "reset")

    async def add_fault(self, **rule: object) -> None:
        await self._call("POST", "faults", rule)

    async def clear_faults(self) -> None:
        await self._call("DELETE", "faults")
