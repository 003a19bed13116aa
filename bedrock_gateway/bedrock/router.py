"""Region choice and failover. A request tries the regions that hold its model, primary first,
skipping regions whose circuit is open; it moves on only before any byte reached the client, and
only for errors another region may not have (throttling, 5xx, timeouts, busy pool).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from bedrock_gateway.bedrock.breaker import CircuitBreaker
from bedrock_gateway.bedrock.clients import RegionClients
from bedrock_gateway.bedrock.errors import map_bedrock_exception
from bedrock_gateway.bedrock.stream import UpstreamStream
from bedrock_gateway.errors import (
    GatewayError,
    ModelNotFoundError,
    ServiceUnavailableError,
    UpstreamTimeoutError,
)

# First pause before another round over the regions (doubles, jittered).
_RETRY_PAUSE_S = 0.1


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
    def __init__(self, clients: Mapping[str, RegionClients],
                 breakers: Mapping[str, CircuitBreaker], *, passes: int = 1) -> None:
        self._clients = clients
        self._breakers = breakers
        self._passes = max(1, passes)  # rounds over the regions (BEDROCK_MAX_ATTEMPTS)

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(self._clients)

    def breaker_states(self) -> dict[str, int]:
        return {region: breaker.state_value for region, breaker in self._breakers.items()}

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

        return await self._with_failover("converse", call, regions, deadline, observer)

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

        return await self._with_failover(operation, call, regions, deadline, observer)

    async def count_tokens(self, kwargs: dict, regions: Sequence[str], *, deadline: float,
                           observer: CallObserver) -> tuple[dict, str]:
        """CountTokens with failover."""
        async def call(rc: RegionClients, token: Any) -> dict:
            try:
                return await rc.runtime.count_tokens(**kwargs)
            finally:
                rc.slots.release()

        return await self._with_failover("count_tokens", call, regions, deadline, observer)

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

        return await self._with_failover("invoke_stream", call, regions, deadline, observer)

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

        return await self._with_failover("converse_stream", call, regions, deadline, observer)

    async def _with_failover(self, operation: str, call, regions: Sequence[str],
                             deadline: float, observer: CallObserver):
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
        for pass_number in range(passes):
            if pass_number:
                pause = min(_RETRY_PAUSE_S * 2 ** (pass_number - 1) * (0.5 + random.random()),
                            deadline - loop.time())
                if pause <= 0:
                    break
                await asyncio.sleep(pause)
            for region in candidates:
                breaker = self._breakers[region]
                if not breaker.allow():
                    continue
                if loop.time() >= deadline:
                    breaker.release_probe()
                    break
                if tried is not None and last_error is not None:
                    observer.failover(tried, region, last_error.code or "error")
                tried = region
                try:
                    result = await self._attempt(operation, call, region, deadline, observer)
                except GatewayError as error:
                    last_error = error
                    if not error.retryable or error.code == "request_timeout":
                        raise
                    continue
                return result if isinstance(result, UpstreamStream) else (result, region)
        if last_error is not None:
            raise last_error
        raise ServiceUnavailableError(
            "Every region that serves this model is cooling down after repeated failures.",
            code="regions_unavailable",
            retry_after=max(1.0, min(self._breakers[r].retry_after_seconds()
                                     for r in candidates)),
        )

    async def _attempt(self, operation: str, call, region: str, deadline: float,
                       observer: CallObserver):
        """One call in one region; records the breaker verdict and telemetry."""
        breaker = self._breakers[region]
        rc = self._clients[region]
        loop = asyncio.get_running_loop()
        token = observer.attempt_started(region, operation)
        started = time.perf_counter()
        try:
            async with asyncio.timeout_at(deadline):
                await rc.slots.acquire(deadline - loop.time())
                result = await call(rc, token)
        except (asyncio.CancelledError, GeneratorExit):
            breaker.release_probe()
            raise
        except BaseException as exc:  # noqa: BLE001 - every upstream failure is mapped
            error = map_bedrock_exception(exc)
            if isinstance(exc, TimeoutError) and loop.time() >= deadline:
                error = UpstreamTimeoutError("The request exceeded its deadline.",
                                             code="request_timeout")
            observer.attempt_finished(token, region, operation,
                                      time.perf_counter() - started, error)
            if error.code == "region_queue_timeout":
                breaker.release_probe()  # our own pool was busy: no verdict on the region
            elif error.retryable:
                breaker.record_failure()
            else:
                breaker.record_success()  # the region answered; the request was at fault
            raise error from None
        observer.attempt_finished(token, region, operation, time.perf_counter() - started, None)
        breaker.record_success()
        return result
