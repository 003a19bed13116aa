"""Admission to one region's connection pool: `RegionSlots` hands out `SlotLease`s.

A slot is taken in one place (the router, before a call) and given back through its lease, which
releases at most once. A call that returns a body gives the slot back when the router's attempt
ends; a call that opens a stream hands the lease over to the stream (`SlotLease.hand_over`), which
then owns it and gives it back when it is closed.
"""

from __future__ import annotations

import asyncio

from bedrock_gateway.errors import OverloadedError


class RegionSlots:
    """At most `capacity` calls of one region hold a pooled connection at once.

    botocore makes callers wait for a free pooled connection with no time limit, so the gateway
    bounds that wait itself and sheds load with a 429 instead of queueing forever.
    """

    __slots__ = ("_semaphore", "capacity", "in_use", "wait_seconds")

    def __init__(self, capacity: int, wait_seconds: float) -> None:
        self.capacity = capacity
        self.wait_seconds = wait_seconds
        self.in_use = 0
        self._semaphore = asyncio.Semaphore(capacity)

    async def acquire(self, wait_seconds: float | None = None) -> SlotLease:
        """A slot, waiting at most `wait_seconds` (and never longer than the region's own
        wait) before a retryable 429 (`region_queue_timeout`)."""
        wait = self.wait_seconds if wait_seconds is None else min(wait_seconds, self.wait_seconds)
        if self._semaphore.locked():
            try:
                async with asyncio.timeout(max(wait, 0.0)):
                    await self._semaphore.acquire()
            except TimeoutError:
                raise OverloadedError(
                    "All connections to Amazon Bedrock in this region are busy; retry shortly.",
                    code="region_queue_timeout",
                    retry_after=1.0,
                    retryable=True,
                ) from None
        else:
            await self._semaphore.acquire()
        self.in_use += 1
        return SlotLease(self)

    def _give_back(self) -> None:
        self.in_use -= 1
        self._semaphore.release()


class SlotLease:
    """One held slot. `release()` gives it back once (later calls do nothing); `hand_over()`
    moves the hold to a new lease for the next owner, after which this one releases nothing."""

    __slots__ = ("_slots",)

    def __init__(self, slots: RegionSlots) -> None:
        self._slots: RegionSlots | None = slots

    def hand_over(self) -> SlotLease:
        if self._slots is None:
            raise RuntimeError("this slot lease was already released or handed over")
        lease = SlotLease(self._slots)
        self._slots = None
        return lease

    def release(self) -> None:
        slots, self._slots = self._slots, None
        if slots is not None:
            slots._give_back()
