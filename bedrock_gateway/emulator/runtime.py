"""bedrock-runtime handlers: Converse, ConverseStream, InvokeModel, InvokeModelWithResponseStream.

Each request: find its region (SigV4 scope), count it, parse the body, resolve the model, apply
the fault rules, validate, plan the reply, then answer with JSON or a pre-encoded event stream.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import re
import uuid
from typing import Any
from urllib.parse import unquote

import orjson
from aiohttp import web

from bedrock_gateway.emulator.anthropic import anthropic_summary, count_input_tokens
from bedrock_gateway.emulator.config import CONFIG, FAULTS, STATS
from bedrock_gateway.emulator.emulated_embeddings import embed
from bedrock_gateway.emulator.emulated_errors import (
    EmulatorError,
    pascal_case,
    stream_message,
    validation,
)
from bedrock_gateway.emulator.eventstream_encoder import encode_exception
from bedrock_gateway.emulator.faults import Effects
from bedrock_gateway.emulator.invoke import (
    chunk_frames,
    image_body,
    invoke_body,
    invoke_chunks,
    provider,
    to_converse,
)
from bedrock_gateway.emulator.render import (
    converse_body,
    converse_events,
    converse_frames,
    planned_latency_ms,
)
from bedrock_gateway.emulator.reply import Pacing, Reply, plan_reply
from bedrock_gateway.emulator.stats import converse_summary
from bedrock_gateway.emulator.validate import (
    Target,
    require_text_model,
    resolve_foundation_model,
    resolve_model,
    validate_converse,
)

EVENTSTREAM = "application/vnd.amazon.eventstream"
_OPERATIONS = {"converse": "converse", "converse-stream": "converse-stream",
               "invoke": "invoke", "invoke-with-response-stream": "invoke-stream",
               "count-tokens": "count-tokens"}
_CREDENTIAL = re.compile(r"Credential=[^/,\s]+/\d{8}/([a-z0-9-]+)/")


def region_of(request: web.Request) -> str:
    """The SigV4 credential scope's region, else the configured default region."""
    match = _CREDENTIAL.search(request.headers.get("Authorization", ""))
    return match.group(1) if match else request.app[CONFIG].default_region


async def _apply_pre_stream(effects: Effects) -> None:
    if effects.latency_ms:
        await asyncio.sleep(effects.latency_ms / 1000)
    if effects.error:
        raise EmulatorError(effects.error)


def drop_connection(request: web.Request) -> None:
    """Close the connection without a byte of answer: the client sees a connection fault."""
    if request.transport is not None:
        request.transport.abort()
    raise asyncio.CancelledError  # nothing more to do for this request


async def begin_simple(request: web.Request, region: str, operation: str) -> None:
    """Count a control-plane request and apply its faults (latency, error)."""
    request.app[STATS].record(region, operation, None)
    await _apply_pre_stream(request.app[FAULTS].take(region, operation, None))


async def handle_model(request: web.Request) -> web.StreamResponse:
    parts = request.rel_url.raw_path.split("/")
    operation = _OPERATIONS.get(parts[3]) if len(parts) == 4 else None
    if operation is None:
        raise EmulatorError("UnknownOperationException",
                            f"No operation at POST {request.rel_url.raw_path}")
    model = unquote(parts[2])
    region = region_of(request)
    app = request.app
    entry = app[STATS].record(region, operation, model)
    raw = await request.read()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise EmulatorError("ValidationException", "Malformed input request: the body is not "
                            "JSON, please reformat your input and try again.") from None
    if operation.startswith("converse"):
        entry["request"] = converse_summary(body)
    if operation == "count-tokens":
        return await _count_tokens(request, region, model, body, entry)
    target = resolve_model(app[CONFIG].catalog, region, model)
    if operation.startswith("invoke") and provider(target.model_id) == "anthropic":
        entry["request"] = anthropic_summary(body)
    effects = app[FAULTS].take(region, operation, model, target.model_id, body=raw)
    if effects.drop:
        drop_connection(request)
    await _apply_pre_stream(effects)
    if operation.startswith("converse"):
        return await _converse(request, operation, body, target, effects)
    return await _invoke(request, operation, body, target, effects)


async def _count_tokens(request: web.Request, region: str, model: str, body: Any,
                        entry: dict[str, Any]) -> web.Response:
    """CountTokens: Claude models only, for an `invokeModel` body (base64 in JSON)."""
    target = resolve_foundation_model(request.app[CONFIG].catalog, region, model)
    effects = request.app[FAULTS].take(region, "count-tokens", model, target.model_id)
    await _apply_pre_stream(effects)
    if provider(target.model_id) != "anthropic":
        raise validation("The provided model doesn't support counting tokens.")
    try:
        raw = base64.b64decode(body["input"]["invokeModel"]["body"], validate=True)
        document = orjson.loads(raw)
    except (KeyError, TypeError, ValueError):
        raise validation("input.invokeModel.body: expected the base64 of a JSON body.") from None
    if not isinstance(document, dict):
        raise validation("input.invokeModel.body: expected a JSON object.")
    entry["request"] = anthropic_summary(document)
    return web.Response(body=orjson.dumps({"inputTokens": count_input_tokens(document)}),
                        content_type="application/json",
                        headers={"x-amzn-RequestId": str(uuid.uuid4())})


def _plan(request: web.Request, body: Any, effects: Effects, *,
          quote_tool_results: bool = False) -> Reply:
    config = request.app[CONFIG]
    try:
        reply = plan_reply(body, chunks=config.chunks, delay_ms=config.delay_ms,
                           quote_tool_results=quote_tool_results)
    except ValueError as error:
        raise validation(f"Emulator directive: {error}") from None
    if reply.error:
        raise EmulatorError(reply.error)
    pacing = reply.pacing
    changes: dict[str, Any] = {"latency_ms": effects.latency_ms}
    if effects.delay_ms is not None:
        changes["delay_ms"] = effects.delay_ms
    if effects.stall_after is not None:
        changes.update(stall_after=effects.stall_after, stall_s=effects.stall_s)
    if effects.stream_error:
        changes.update(stream_error=effects.stream_error, error_after=effects.error_after)
    return dataclasses.replace(reply, pacing=dataclasses.replace(pacing, **changes))


async def _generation_time(reply: Reply, events: int) -> None:
    """A non-streamed answer takes as long as its stream would have."""
    pacing = reply.pacing
    if pacing.stream_error:
        raise EmulatorError(pascal_case(pacing.stream_error))
    seconds = pacing.delay_ms * max(events - 1, 0) / 1000
    if pacing.stall_after is not None and pacing.stall_after < events:
        seconds += pacing.stall_s
    if seconds > 0:
        await asyncio.sleep(seconds)


async def _converse(request: web.Request, operation: str, body: Any, target: Target,
                    effects: Effects) -> web.StreamResponse:
    require_text_model(target)
    try:
        if not isinstance(body, dict):
            raise TypeError("not an object")
        validate_converse(body)
        reply = _plan(request, body, effects)
    except (AttributeError, TypeError, KeyError, IndexError):
        raise validation("Malformed input request, please reformat your input and try "
                         "again.") from None
    if operation == "converse-stream":
        return await write_stream(request, converse_frames(reply), reply.pacing)
    response = converse_body(reply)
    await _generation_time(reply, len(converse_events(reply)))
    return web.Response(body=orjson.dumps(response), content_type="application/json",
                        headers={"x-amzn-RequestId": str(uuid.uuid4())})


async def _invoke(request: web.Request, operation: str, body: Any, target: Target,
                  effects: Effects) -> web.StreamResponse:
    if target.output != "TEXT":
        if operation == "invoke-stream":
            raise validation("The model is unsupported for streaming.")
        if effects.stream_error:
            raise EmulatorError(pascal_case(effects.stream_error))
        if target.output == "EMBEDDING":
            document, tokens = embed(target.model_id, body)
        else:
            document, tokens = image_body(body), 0
        return _invoke_response(document, tokens, 0, effects.latency_ms)
    converse = to_converse(target.model_id, body)
    if not converse["messages"]:
        raise validation("Malformed input request: #/messages: expected minItems: 1, please "
                         "reformat your input and try again.")
    reply = _plan(request, converse, effects,
                  quote_tool_results=provider(target.model_id) == "anthropic")
    if operation == "invoke-stream":
        latency = planned_latency_ms(reply, len(reply.blocks) + 4)
        frames = chunk_frames(invoke_chunks(target.model_id, reply, latency))
        return await write_stream(request, frames, reply.pacing)
    events = len(converse_events(reply))
    await _generation_time(reply, events)
    return _invoke_response(invoke_body(target.model_id, reply), reply.input_tokens,
                            reply.output_tokens, planned_latency_ms(reply, events))


def _invoke_response(document: Any, tokens_in: int, tokens_out: int,
                     latency_ms: float) -> web.Response:
    return web.Response(body=orjson.dumps(document), content_type="application/json", headers={
        "X-Amzn-Bedrock-Input-Token-Count": str(tokens_in),
        "X-Amzn-Bedrock-Output-Token-Count": str(tokens_out),
        "X-Amzn-Bedrock-Invocation-Latency": str(int(latency_ms) or 1),
        "x-amzn-RequestId": str(uuid.uuid4())})


async def write_stream(request: web.Request, frames: list[bytes],
                       pacing: Pacing) -> web.StreamResponse:
    """Serve pre-encoded frames with the reply's pacing; counts the stream while it is open."""
    if pacing.stream_error:
        frames = frames[: pacing.error_after] + [
            encode_exception(pacing.stream_error, stream_message(pacing.stream_error))]
    stats = request.app[STATS]
    response = web.StreamResponse(headers={"Content-Type": EVENTSTREAM,
                                           "x-amzn-RequestId": str(uuid.uuid4())})
    model = unquote(request.rel_url.raw_path.split("/")[2])
    stats.stream_opened(model)
    try:
        await response.prepare(request)
        await _pace(response, frames, pacing)
        await response.write_eof()
    except ConnectionError:  # the client went away; nothing left to tell it
        pass
    finally:
        stats.stream_closed(model)
    return response


async def _pace(response: web.StreamResponse, frames: list[bytes], pacing: Pacing) -> None:
    delay = pacing.delay_ms / 1000
    stall_at = pacing.stall_after if pacing.stall_after is not None else len(frames) + 1
    if not delay:
        if stall_at <= len(frames):
            if stall_at:
                await response.write(b"".join(frames[:stall_at]))
            await asyncio.sleep(pacing.stall_s)
            frames = frames[stall_at:]
        if frames:
            await response.write(b"".join(frames))
        return
    for i, frame in enumerate(frames):
        if i == stall_at:
            await asyncio.sleep(pacing.stall_s)
        elif i:
            await asyncio.sleep(delay)
        await response.write(frame)
