"""The two ways to make each call: the floor (aiobotocore straight to the emulator) and the
gateway (a raw aiohttp client speaking OpenAI, or Anthropic's Messages API). Each call returns a
`Result` and never raises (a phase's own cancellation aside), so a load run always ends with every
request accounted for. Every streamed call is read by one `StreamTally` (bench/stream_tally.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Self

import aiohttp
import orjson
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from bench.stream_tally import (
    REQUEST_TIMEOUT,
    Result,
    StreamTally,
    Verdict,
    chat_sse,
    converse_event,
    failed,
    http_error,
    invoke_event,
    messages_sse,
    now,
    responses_sse,
    tally_sse,
)

__all__ = ["CHAT_MODEL", "EMBED_MODEL", "EmulatorControl", "FloorClient", "GatewayClient",
           "Result"]

CHAT_MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
EMBED_MODEL = "cohere.embed-english-v3"


class FloorClient:
    """One long-lived aiobotocore bedrock-runtime client; the endpoint comes from the environment
    (AWS_ENDPOINT_URL_BEDROCK_RUNTIME), exactly as the gateway's does."""

    def __init__(self, region: str = "us-east-1") -> None:
        self._session = get_session()
        self._region = region
        self._cm: Any = None
        self.client: Any = None

    async def __aenter__(self) -> Self:
        config = AioConfig(max_pool_connections=1200, connect_timeout=10, read_timeout=120,
                           retries={"mode": "standard", "total_max_attempts": 1})
        self._cm = self._session.create_client("bedrock-runtime", region_name=self._region,
                                               config=config)
        self.client = await self._cm.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._cm.__aexit__(None, None, None)

    @staticmethod
    def _messages(prompt: str) -> list[dict]:
        return [{"role": "user", "content": [{"text": prompt}]}]

    async def converse(self, prompt: str) -> Result:
        started = now()
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                response = await self.client.converse(modelId=CHAT_MODEL,
                                                      messages=self._messages(prompt))
            content = response["output"]["message"]["content"]
            if not content or not content[0].get("text"):
                return Result(False, now() - started, error="empty reply", started=started)
            return Result(True, now() - started, started=started)
        except Exception as exc:  # noqa: BLE001 - every failure is a counted result
            return failed(started, exc)

    async def _stream(self, call: Callable[[], Any], key: str,
                      classify: Callable[[Any], Verdict], end_name: str) -> Result:
        tally = StreamTally()
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                response = await call()
                async for event in response[key]:
                    tally.add(classify(event))
        except Exception as exc:  # noqa: BLE001 - every failure is a counted result
            return tally.failed(exc)
        return tally.result(end_name)

    async def converse_stream(self, prompt: str) -> Result:
        return await self._stream(
            lambda: self.client.converse_stream(modelId=CHAT_MODEL,
                                                messages=self._messages(prompt)),
            "stream", converse_event, "messageStop")

    async def invoke_stream(self, prompt: str) -> Result:
        """The Anthropic body through InvokeModelWithResponseStream: the floor of /v1/messages."""
        body = orjson.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 1024,
                             "messages": [{"role": "user", "content": prompt}]})
        return await self._stream(
            lambda: self.client.invoke_model_with_response_stream(modelId=CHAT_MODEL, body=body),
            "body", invoke_event, "message_stop")

    async def embed(self, texts: list[str]) -> Result:
        started = now()
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
                return Result(False, now() - started, error="wrong vector count",
                              started=started)
            return Result(True, now() - started, started=started)
        except Exception as exc:  # noqa: BLE001
            return failed(started, exc)


class GatewayClient:
    """A deliberately thin OpenAI client: pre-encoded bodies, SSE split by hand, orjson."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base = base_url.rstrip("/") + "/api/v1"
        self.root = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}",
                         "Content-Type": "application/json"}
        self._anthropic_headers = {"x-api-key": api_key, "anthropic-version": "2023-06-01",
                                   "Content-Type": "application/json"}
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        connector = aiohttp.TCPConnector(limit=1200, limit_per_host=0, force_close=False)
        self._session = aiohttp.ClientSession(connector=connector,
                                              timeout=aiohttp.ClientTimeout(total=None))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "use `async with GatewayClient(...)`"
        return self._session

    def _chat_body(self, prompt: str, stream: bool) -> bytes:
        return orjson.dumps({"model": CHAT_MODEL, "stream": stream,
                             "messages": [{"role": "user", "content": prompt}]})

    async def _post(self, url: str, body: bytes, check: Callable[[bytes], str | None],
                    headers: dict[str, str] | None = None) -> Result:
        """A non-streamed call; `check(raw body)` says what is wrong with a 200, or None."""
        started = now()
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                async with self.session.post(url, headers=headers or self._headers,
                                             data=body) as response:
                    raw = await response.read()
            if response.status != 200:
                return http_error(started, response.status, raw)
            problem = check(raw)
            if problem is not None:
                return Result(False, now() - started, error=problem, started=started)
            return Result(True, now() - started, started=started)
        except Exception as exc:  # noqa: BLE001 - every failure is a counted result
            return failed(started, exc)

    async def _sse(self, url: str, body: bytes, classify: Callable[[bytes], Verdict],
                   end_name: str, headers: dict[str, str] | None = None) -> Result:
        """A streamed call read by one StreamTally, whatever the SSE dialect."""
        tally = StreamTally()
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                async with self.session.post(url, headers=headers or self._headers,
                                             data=body) as response:
                    if response.status != 200:
                        return http_error(tally.started, response.status, await response.read())
                    await tally_sse(response, classify, tally)
        except Exception as exc:  # noqa: BLE001 - every failure is a counted result
            return tally.failed(exc)
        return tally.result(end_name)

    async def chat(self, prompt: str) -> Result:
        def check(raw: bytes) -> str | None:
            content = orjson.loads(raw)["choices"][0]["message"].get("content")
            return None if content else "empty reply"

        return await self._post(f"{self.base}/chat/completions",
                                self._chat_body(prompt, False), check)

    async def chat_stream(self, prompt: str) -> Result:
        return await self._sse(f"{self.base}/chat/completions", self._chat_body(prompt, True),
                               chat_sse, "[DONE]")

    async def responses_stream(self, prompt: str) -> Result:
        """POST /responses, streamed, as Codex calls it (store false)."""
        body = orjson.dumps({"model": CHAT_MODEL, "stream": True, "store": False,
                             "input": prompt})
        return await self._sse(f"{self.base}/responses", body, responses_sse,
                               "response.completed")

    async def messages_stream(self, prompt: str) -> Result:
        """POST /v1/messages, streamed, as the Anthropic SDKs send it."""
        body = orjson.dumps({"model": CHAT_MODEL, "max_tokens": 1024, "stream": True,
                             "messages": [{"role": "user", "content": prompt}]})
        return await self._sse(f"{self.root}/v1/messages", body, messages_sse, "message_stop",
                               self._anthropic_headers)

    async def embed(self, texts: list[str]) -> Result:
        def check(raw: bytes) -> str | None:
            return None if len(orjson.loads(raw)["data"]) == len(texts) else "wrong vector count"

        body = orjson.dumps({"model": EMBED_MODEL, "input": texts})
        return await self._post(f"{self.base}/embeddings", body, check)

    async def get(self, path: str) -> tuple[int, bytes]:
        async with self.session.get(self.root + path) as response:
            return response.status, await response.read()


class EmulatorControl:
    """The emulator's control API (`/_emulator/...`) on the benchmark's shared session."""

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
