"""The steps every generation handler shares (chat completions, Responses, Messages, Bedrock
InvokeModel, embeddings): I/O and bookkeeping only, no translation.

Each handler reads parse -> resolve -> plan -> call -> pump (or answer). What is the same for
every protocol lives here: noting the request on its context, the key's admission, fetching the
images a request names, the deadline of its Bedrock calls, and the pump with its telemetry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

from aiohttp import web

from bedrock_gateway.bedrock.catalog import CatalogEntry
from bedrock_gateway.bedrock.upstream_stream import UpstreamStream
from bedrock_gateway.server.app_state import (
    IMAGE_BUDGET,
    IMAGE_FETCHER,
    KEY_SERVICE,
    LIFECYCLE,
    SEND_GATE,
    SETTINGS,
)
from bedrock_gateway.server.context import RequestContext
from bedrock_gateway.server.image_fetch import ImageBatch
from bedrock_gateway.server.key_access import confirm_admission
from bedrock_gateway.server.limits import request_holdings
from bedrock_gateway.server.request_observer import request_observer
from bedrock_gateway.server.stream_pump import ChunkSource, StreamWriter, pump_stream

# Model names longer than this are not Bedrock ids; they are cut before they reach logs.
MODEL_NAME_LIMIT = 256


def note_request(ctx: RequestContext, *, model: str, stream: bool,
                 max_tokens: int | None) -> None:
    """What telemetry knows once the request is parsed: set before the model is resolved, so
    that a request for an unknown model is still counted under its name."""
    ctx.stream = stream
    ctx.max_tokens = max_tokens
    ctx.model = model[:MODEL_NAME_LIMIT]


async def admit_key(request: web.Request, ctx: RequestContext, requested: str,
                    entry: CatalogEntry, *, max_output_tokens: int | None, stream: bool,
                    input_bytes: int | None = None) -> None:
    """The key's model access and limits, before any Bedrock call (settled when the request
    ends). `input_bytes` defaults to the body's length.

    A check in Redis is a round trip: it runs while the request is planned and its Bedrock
    call prepared, and the call's bytes wait for it at the wire (bedrock/send_gate.py). So a
    refused request still sends nothing; anything else that must wait for the answer (image
    fetches, content logging) awaits `confirm_admission` first."""
    app = request.app
    confirm = await app[KEY_SERVICE].admit(
        request, ctx, names=(requested, entry.id, entry.base_model_id),
        input_bytes=request.content_length if input_bytes is None else input_bytes,
        max_output_tokens=max_output_tokens, stream=stream)
    if confirm is not None:
        if app[SETTINGS].log_content:  # the prompt is logged only for an admitted request
            await confirm()
        else:
            app[SEND_GATE].hold(confirm)


def call_deadline(app: web.Application) -> float:
    """The loop time by which the request's Bedrock calls (failover included) must be done."""
    return asyncio.get_running_loop().time() + app[SETTINGS].request_timeout_seconds


async def fetch_images(request: web.Request,
                       urls: dict[str, str]) -> Mapping[str, tuple[bytes, str]]:
    """{url: (bytes, format)} for `urls` ({url: the param a fetch error names}), within the
    request's and the process's limits (count, bytes, concurrency), cancelled with the request."""
    if not urls:
        return {}
    await confirm_admission(request)  # a refused request fetches nothing
    app = request.app
    settings = app[SETTINGS]
    batch = ImageBatch(app[IMAGE_FETCHER], app[IMAGE_BUDGET], request_holdings(request),
                       max_bytes=settings.image_fetch_max_bytes,
                       max_total_bytes=settings.image_fetch_max_total_bytes,
                       concurrency=settings.image_fetch_concurrency,
                       timeout_s=settings.image_fetch_timeout_seconds)
    # bytearray, which every consumer (image checks, base64, botocore) reads as bytes: no copy.
    return cast(Mapping[str, tuple[bytes, str]], await batch.fetch_all(urls))


async def pump(request: web.Request, ctx: RequestContext, upstream: UpstreamStream,
               source: ChunkSource, *,
               open_writer: Callable[[web.Request], Awaitable[StreamWriter]],
               on_end: Callable[[], Any]) -> web.StreamResponse:
    """Stream `upstream` to the client through `source` (the protocol's translator) in the
    framing `open_writer` starts. `on_end` records the stream's outcome (usage, finish reason)
    on the context, whatever happened; the request's observer closes the stream's books."""
    app = request.app
    settings = app[SETTINGS]
    try:
        return await pump_stream(
            request, ctx, upstream, source,
            lifecycle=app[LIFECYCLE],
            heartbeat_s=settings.sse_heartbeat_seconds,
            idle_s=settings.stream_idle_timeout,
            observer=request_observer(request),
            open_writer=open_writer,
        )
    finally:
        on_end()
