"""Region choice and failover. A request tries the regions that hold its model in the order the
health table gives (`route_health.py`: per (region, model) breakers and throttle preference, never
failing closed); it moves on only before any byte reached the client, and only for errors another
region may not have (throttling, 5xx, timeouts, busy pool).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from bedrock_gateway.bedrock.call_observer import BedrockOperation, CallObserver
from bedrock_gateway.bedrock.clients import RegionClients
from bedrock_gateway.bedrock.region_slots import SlotLease
from bedrock_gateway.bedrock.route_health import FAULT, Attempt, HealthTable, verdict
from bedrock_gateway.bedrock.send_gate import SendRefused
from bedrock_gateway.bedrock.upstream_errors import map_bedrock_exception
from bedrock_gateway.bedrock.upstream_stream import UpstreamStream
from bedrock_gateway.errors import (
    GatewayError,
    ModelNotFoundError,
    UpstreamTimeoutError,
)

# First pause before another round over the regions (doubles, jittered).
_RETRY_PAUSE_S = 0.1

T = TypeVar("T")
# One call in one region. It gets the slot lease the router took for it: a call that opens a
# stream hands the lease over to the stream; for any other call the router gives it back.
RegionCall = Callable[[RegionClients, SlotLease], Awaitable[T]]


@dataclass(frozen=True, slots=True)
class Routed(Generic[T]):
    """What every call with failover returns: its result (a response, or an open stream) and
    the region that gave it."""

    result: T
    region: str


def _model_of(kwargs: Mapping[str, Any]) -> str:
    """The Bedrock model id (or profile) a call names: the health table's second key."""
    return str(kwargs.get("modelId") or "")


class BedrockRouter:
    def __init__(self, clients: Mapping[str, RegionClients], health: HealthTable, *,
                 passes: int = 1) -> None:
        self._clients = clients
        self._health = health
        self._passes = max(1, passes)  # rounds over the regions (BEDROCK_MAX_ATTEMPTS)

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(self._clients)

    @property
    def health(self) -> HealthTable:
        return self._health

    def breaker_states(self) -> dict[tuple[str, str], int]:
        """(region, model id) -> 0 closed / 1 half-open / 2 open."""
        return self._health.states()

    def pool_usage(self) -> dict[str, tuple[int, int]]:
        return {r: (c.slots.in_use, c.slots.capacity) for r, c in self._clients.items()}

    def client(self, region: str) -> RegionClients:
        return self._clients[region]

    async def converse(self, kwargs: dict[str, Any], regions: Sequence[str], *,
                       deadline: float, observer: CallObserver) -> Routed[dict[str, Any]]:
        """A non-streaming Converse with failover."""
        async def call(rc: RegionClients, lease: SlotLease) -> dict[str, Any]:
            response: dict[str, Any] = await rc.runtime.converse(**kwargs)
            return response

        return await self._with_failover("converse", call, regions, deadline, observer,
                                         _model_of(kwargs))

    async def invoke(self, kwargs: dict[str, Any], regions: Sequence[str], *, deadline: float,
                     observer: CallObserver,
                     operation: Literal["invoke", "invoke_model"] = "invoke",
                     ) -> Routed[dict[str, Any]]:
        """InvokeModel with failover; the body is read before the slot is given back.
        `operation` names the call in telemetry (`invoke` for embeddings, `invoke_model` for
        text)."""
        async def call(rc: RegionClients, lease: SlotLease) -> dict[str, Any]:
            response: dict[str, Any] = await rc.runtime.invoke_model(**kwargs)
            response["body"] = await response["body"].read()
            return response

        return await self._with_failover(operation, call, regions, deadline, observer,
                                         _model_of(kwargs))

    async def count_tokens(self, kwargs: dict[str, Any], regions: Sequence[str], *,
                           deadline: float, observer: CallObserver) -> Routed[dict[str, Any]]:
        """CountTokens with failover."""
        async def call(rc: RegionClients, lease: SlotLease) -> dict[str, Any]:
            response: dict[str, Any] = await rc.runtime.count_tokens(**kwargs)
            return response

        return await self._with_failover("count_tokens", call, regions, deadline, observer,
                                         _model_of(kwargs))

    async def open_invoke_stream(self, kwargs: dict[str, Any], regions: Sequence[str], *,
                                 deadline: float,
                                 observer: CallObserver) -> Routed[UpstreamStream]:
        """Start an InvokeModelWithResponseStream with failover (see `open_stream`)."""
        async def call(rc: RegionClients, lease: SlotLease) -> UpstreamStream:
            response = await rc.runtime.invoke_model_with_response_stream(**kwargs)
            return UpstreamStream(response["body"], lease.hand_over())

        return await self._with_failover("invoke_stream", call, regions, deadline, observer,
                                         _model_of(kwargs))

    async def open_stream(self, kwargs: dict[str, Any], regions: Sequence[str], *,
                          deadline: float, observer: CallObserver) -> Routed[UpstreamStream]:
        """Start a ConverseStream with failover. The returned stream holds the region's slot
        until it is closed; failover stops here, because the caller then starts writing to the
        client."""
        async def call(rc: RegionClients, lease: SlotLease) -> UpstreamStream:
            response = await rc.runtime.converse_stream(**kwargs)
            return UpstreamStream(response["stream"], lease.hand_over())

        return await self._with_failover("converse_stream", call, regions, deadline, observer,
                                         _model_of(kwargs))

    async def _with_failover(self, operation: BedrockOperation, call: RegionCall[T],
                             regions: Sequence[str], deadline: float, observer: CallObserver,
                             model: str) -> Routed[T]:
        candidates = [r for r in regions if r in self._clients]
        if not candidates:
            raise ModelNotFoundError(str(regions))
        last_error: GatewayError | None = None
        tried: str | None = None
        loop = asyncio.get_running_loop()
        # With one region the SDK retries (standard mode); with several, the SDK makes one call
        # per region and the retry is the next region, so a throttled primary costs no backoff.
        # That choice follows the configured regions (clients.runtime_config), not the model's:
        # a model held by one of several regions still gets its rounds here.
        passes = self._passes if len(self._clients) > 1 else 1
        counted: set[str] = set()  # regions whose fault this request already reported
        for pass_number in range(passes):
            if pass_number:
                pause = min(_RETRY_PAUSE_S * 2 ** (pass_number - 1) * (0.5 + random.random()),
                            deadline - loop.time())
                if pause <= 0:
                    break
                await asyncio.sleep(pause)
            # Every round calls every candidate until one answers: the health table orders
            # them (open routes last), it never refuses by itself.
            for attempt in self._health.attempts(candidates, model):
                if loop.time() >= deadline:
                    self._health.release(attempt, model)
                    break
                if tried is not None and last_error is not None:
                    observer.failover(tried, attempt.region, last_error.code or "error")
                tried = attempt.region
                try:
                    result = await self._attempt(operation, call, attempt, model, deadline,
                                                 observer, counted)
                except GatewayError as error:
                    last_error = error
                    if not error.retryable or error.code == "request_timeout":
                        raise
                    continue
                return Routed(result, attempt.region)
        if last_error is not None:
            raise last_error
        raise UpstreamTimeoutError("The request exceeded its deadline.", code="request_timeout")

    async def _attempt(self, operation: BedrockOperation, call: RegionCall[T], attempt: Attempt,
                       model: str, deadline: float, observer: CallObserver,
                       counted: set[str]) -> T:
        """One call in one region; records its verdict (at the first byte) and telemetry. One
        request reports at most one fault per route, however many rounds it makes: a request
        that fails everywhere by itself must not weigh like several.

        The region slot is taken and given back here, and nowhere else: a call that opens a
        stream hands its lease over to the stream (then `release` here does nothing)."""
        region = attempt.region
        rc = self._clients[region]
        loop = asyncio.get_running_loop()
        watch = observer.attempt_started(region, operation)
        started = time.perf_counter()
        try:
            async with asyncio.timeout_at(deadline):
                lease = await rc.slots.acquire(deadline - loop.time())
                try:
                    result = await call(rc, lease)
                finally:
                    lease.release()
        except (asyncio.CancelledError, GeneratorExit):
            self._health.release(attempt, model)
            raise
        except SendRefused as refused:  # the request's own check said no: nothing was sent
            self._health.release(attempt, model)
            watch.withheld(refused.error)
            raise refused.error from None
        except BaseException as exc:  # noqa: BLE001 - every upstream failure is mapped
            error = map_bedrock_exception(exc)
            if isinstance(exc, TimeoutError) and loop.time() >= deadline:
                error = UpstreamTimeoutError("The request exceeded its deadline.",
                                             code="request_timeout")
            watch.finished(time.perf_counter() - started, error)
            if attempt.region in counted and verdict(error.code) == FAULT:
                self._health.release(attempt, model)
            elif self._health.record(attempt, model, error.code) == FAULT:
                counted.add(attempt.region)
            raise error from None
        watch.finished(time.perf_counter() - started, None)
        self._health.record(attempt, model, None)
        return result
