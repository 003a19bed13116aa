"""Region choice and failover. A request tries the regions that hold its model in the order the
health table gives (`health.py`: per (region, model) breakers and throttle preference, never
failing closed); it moves on only before any byte reached the client, and only for errors another
region may not have (throttling, 5xx, timeouts, busy pool).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from bedrock_gateway.bedrock.clients import RegionClients
from bedrock_gateway.bedrock.upstream_errors import map_bedrock_exception
from bedrock_gateway.bedrock.route_health import FAULT, Attempt, HealthTable, verdict
from bedrock_gateway.bedrock.upstream_stream import UpstreamStream
from bedrock_gateway.errors import (
    GatewayError,
    ModelNotFoundError,
    UpstreamTimeoutError,
)

# First pause before another round over the regions (doubles, jittered).
_RETRY_PAUSE_S = 0.1


def _model_of(kwargs: dict) -> str:
    """The Bedrock model id (or profile) a call names: the health table's second key."""
    return str(kwargs.get("modelId") or "")


class CallObserver(Protocol):
    """Telemetry hooks for one request's Bedrock calls (implemented by the server layer)."""

    def attempt_started(self, region: str, operation: str) -> Any: ...

    def attempt_finished(self, token: Any, region: str, operation: str, duration_s: float,
                         error: GatewayError | None) -> None: ...

    def failover(self, from_region: str, to_region: str, reason: str) -> None: ...


class NullObserver:
    def attempt_started(self, region: str, operation: str) -> None:
        return None

    def attempt_finished(self, token, region, operation, duration_s, error) -> None:
        return None

    def failover(self, from_region: str, to_region: str, reason: str) -> None:
        return None


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

    async def converse(self, kwargs: dict, regions: Sequence[str], *, deadline: float,
                       observer: CallObserver) -> tuple[dict, str]:
        """A non-streaming Converse with failover; returns (response, region)."""
        async def call(rc: RegionClients, token: Any) -> dict:
            try:
                return await rc.runtime.converse(**kwargs)
            finally:
                rc.slots.release()

        return await self._with_failover("converse", call, regions, deadline, observer,
                                         _model_of(kwargs))

    async def invoke(self, kwargs: dict, regions: Sequence[str], *, deadline: float,
                     observer: CallObserver, operation: str = "invoke") -> tuple[dict, str]:
        """InvokeModel with failover; the body is read before the slot is freed. `operation`
        names the call in telemetry (`invoke` for embeddings, `invoke_model` for text)."""
        async def call(rc: RegionClients, token: Any) -> dict:
            try:
                response = await rc.runtime.invoke_model(**kwargs)
                response["body"] = await response["body"].read()
                return response
            finally:
                rc.slots.release()

        return await self._with_failover(operation, call, regions, deadline, observer,
                                         _model_of(kwargs))

    async def count_tokens(self, kwargs: dict, regions: Sequence[str], *, deadline: float,
                           observer: CallObserver) -> tuple[dict, str]:
        """CountTokens with failover."""
        async def call(rc: RegionClients, token: Any) -> dict:
            try:
                return await rc.runtime.count_tokens(**kwargs)
            finally:
                rc.slots.release()

        return await self._with_failover("count_tokens", call, regions, deadline, observer,
                                         _model_of(kwargs))

    async def open_invoke_stream(self, kwargs: dict, regions: Sequence[str], *, deadline: float,
                                 observer: CallObserver) -> UpstreamStream:
        """Start an InvokeModelWithResponseStream with failover (see `open_stream`)."""
        async def call(rc: RegionClients, token: Any) -> UpstreamStream:
            try:
                response = await rc.runtime.invoke_model_with_response_stream(**kwargs)
            except BaseException:
                rc.slots.release()
                raise
            return UpstreamStream(response["body"], rc.region, rc.slots.release, token)

        return await self._with_failover("invoke_stream", call, regions, deadline, observer,
                                         _model_of(kwargs))

    async def open_stream(self, kwargs: dict, regions: Sequence[str], *, deadline: float,
                          observer: CallObserver) -> UpstreamStream:
        """Start a ConverseStream with failover. The returned stream holds the region's slot until
        it is closed; failover stops here, because the caller then starts writing to the client."""
        async def call(rc: RegionClients, token: Any) -> UpstreamStream:
            try:
                response = await rc.runtime.converse_stream(**kwargs)
            except BaseException:
                rc.slots.release()
                raise
            return UpstreamStream(response["stream"], rc.region, rc.slots.release, token)

        return await self._with_failover("converse_stream", call, regions, deadline, observer,
                                         _model_of(kwargs))

    async def _with_failover(self, operation: str, call, regions: Sequence[str],
                             deadline: float, observer: CallObserver, model: str):
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
                return result if isinstance(result, UpstreamStream) else (result, attempt.region)
        if last_error is not None:
            raise last_error
        raise UpstreamTimeoutError("The request exceeded its deadline.", code="request_timeout")

    async def _attempt(self, operation: str, call, attempt: Attempt, model: str,
                       deadline: float, observer: CallObserver, counted: set[str]):
        """One call in one region; records its verdict (at the first byte) and telemetry. One
        request reports at most one fault per route, however many rounds it makes: a request
        that fails everywhere by itself must not weigh like several."""
        region = attempt.region
        rc = self._clients[region]
        loop = asyncio.get_running_loop()
        token = observer.attempt_started(region, operation)
        started = time.perf_counter()
        try:
            async with asyncio.timeout_at(deadline):
                await rc.slots.acquire(deadline - loop.time())
                result = await call(rc, token)
        except (asyncio.CancelledError, GeneratorExit):
            self._health.release(attempt, model)
            raise
        except BaseException as exc:  # noqa: BLE001 - every upstream failure is mapped
            error = map_bedrock_exception(exc)
            if isinstance(exc, TimeoutError) and loop.time() >= deadline:
                error = UpstreamTimeoutError("The request exceeded its deadline.",
                                             code="request_timeout")
            observer.attempt_finished(token, region, operation,
                                      time.perf_counter() - started, error)
            if attempt.region in counted and verdict(error.code) == FAULT:
                self._health.release(attempt, model)
            elif self._health.record(attempt, model, error.code) == FAULT:
                counted.add(attempt.region)
            raise error from None
        observer.attempt_finished(token, region, operation, time.perf_counter() - started, None)
        self._health.record(attempt, model, None)
        return result
