"""Sends one planned soak request and classifies what came back. Never raises (cancellation
aside): every request ends in exactly one class.

Classes: ok, expected_error (the right status and code, Retry-After on 429s, or the right SSE
error event), wrong_error (anything else: another status or code, wrong text, a missing
Retry-After), hung (no byte for `hang_s`), truncated (a stream that ended without [DONE] or an
error event). A planned disconnect that read its lines and hung up counts as ok.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp
import orjson

from bench.soak_mix import Planned

CLASSES = ("ok", "expected_error", "wrong_error", "hung", "truncated")


@dataclass(slots=True)
class Outcome:
    kind: str
    klass: str
    detail: str = ""
    latency_s: float = 0.0


class _Hung(Exception):
    pass


async def _within(awaitable, seconds: float):
    try:
        async with asyncio.timeout(seconds):
            return await awaitable
    except TimeoutError:
        raise _Hung from None


def _error_code(payload: bytes) -> str | None:
    try:
        error = orjson.loads(payload).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return error.get("code") if isinstance(error, dict) else None


async def run_one(session: aiohttp.ClientSession, url: str, headers: dict, planned: Planned,
                  hang_s: float) -> Outcome:
    started = time.perf_counter()
    try:
        klass, detail = await _exchange(session, url, headers, planned, hang_s)
    except _Hung:
        klass, detail = "hung", f"no byte for {hang_s:g} s"
    except (aiohttp.ClientError, ConnectionError, OSError) as exc:
        klass, detail = "wrong_error", f"connection: {type(exc).__name__}: {str(exc)[:120]}"
    return Outcome(planned.kind, klass, detail, time.perf_counter() - started)


async def _exchange(session, url, headers, planned: Planned, hang_s: float) -> tuple[str, str]:
    response = await _within(session.post(url, data=planned.body, headers=headers), hang_s)
    try:
        if planned.expect == "status" or response.status != 200:
            body = await _within(response.read(), hang_s)
            return _judge_status(planned, response, body)
        if not planned.stream:
            body = await _within(response.read(), hang_s)
            return _judge_completion(planned, body)
        return await _judge_stream(planned, response, hang_s)
    finally:
        response.close()


def _judge_status(planned: Planned, response: aiohttp.ClientResponse,
                  body: bytes) -> tuple[str, str]:
    code = _error_code(body)
    seen = f"{response.status} {code}"
    if planned.expect != "status":
        return "wrong_error", f"expected {planned.expect}, got {seen}"
    if response.status != planned.status:
        return "wrong_error", f"expected {planned.status}, got {seen}"
    if code is None and response.status >= 400:
        return "wrong_error", f"{response.status} without an error object"
    if planned.codes and code not in planned.codes:
        return "wrong_error", f"expected code {planned.codes}, got {seen}"
    if response.status == 429 and not response.headers.get("Retry-After"):
        return "wrong_error", "429 without Retry-After"
    return "expected_error", ""


def _judge_completion(planned: Planned, body: bytes) -> tuple[str, str]:
    try:
        text = orjson.loads(body)["choices"][0]["message"]["content"]
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
        return "wrong_error", "200 without a completion"
    if text != planned.text:
        return "wrong_error", "wrong text"
    return "ok", ""


async def _judge_stream(planned: Planned, response: aiohttp.ClientResponse,
                        hang_s: float) -> tuple[str, str]:
    parts: list[str] = []
    lines = 0
    while True:
        line = await _within(response.content.readline(), hang_s)
        if not line:
            return "truncated", f"stream ended after {lines} events without [DONE] or error"
        if not line.startswith(b"data: "):
            continue  # blank separators and `: keep-alive` heartbeats
        lines += 1
        if planned.expect == "disconnect" and lines >= planned.read_lines:
            return "ok", ""  # the client hangs up here (the response is closed by the caller)
        payload = line[6:].strip()
        if payload == b"[DONE]":
            if planned.expect != "ok":
                return "wrong_error", f"[DONE] where {planned.expect} {planned.codes} was due"
            if "".join(parts) != planned.text:
                return "wrong_error", "wrong text"
            return "ok", ""
        try:
            event = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return "wrong_error", "an event that is not JSON"
        if "error" in event:
            code = event["error"].get("code") if isinstance(event["error"], dict) else None
            if planned.expect == "sse_error" and code in planned.codes:
                return "expected_error", ""
            return "wrong_error", f"error event {code} where {planned.expect} was due"
        for choice in event.get("choices") or ():
            parts.append((choice.get("delta") or {}).get("content") or "")
