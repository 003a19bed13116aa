"""A region's connection slots: taken through a lease, given back once, handed over to a stream."""

from __future__ import annotations

import asyncio

import pytest

from bedrock_gateway.bedrock.region_slots import RegionSlots
from bedrock_gateway.errors import OverloadedError


async def test_a_lease_gives_its_slot_back_once() -> None:
    slots = RegionSlots(capacity=2, wait_seconds=0.0)
    first = await slots.acquire()
    second = await slots.acquire()
    assert slots.in_use == 2
    first.release()
    first.release()  # a second release gives back nothing more
    assert slots.in_use == 1
    second.release()
    assert slots.in_use == 0
    third, fourth = await slots.acquire(), await slots.acquire()  # both slots are free again
    assert slots.in_use == 2
    third.release()
    fourth.release()


async def test_a_full_region_refuses_with_a_retryable_429() -> None:
    slots = RegionSlots(capacity=1, wait_seconds=0.0)
    lease = await slots.acquire()
    with pytest.raises(OverloadedError) as refused:
        await slots.acquire()
    assert refused.value.code == "region_queue_timeout"
    assert refused.value.retryable
    assert slots.in_use == 1
    lease.release()
    (await slots.acquire()).release()
    assert slots.in_use == 0


async def test_a_waiter_gets_the_slot_a_lease_gives_back() -> None:
    slots = RegionSlots(capacity=1, wait_seconds=60.0)
    lease = await slots.acquire()
    waiter = asyncio.ensure_future(slots.acquire())
    await asyncio.sleep(0)
    assert not waiter.done()
    lease.release()
    second = await asyncio.wait_for(waiter, timeout=10)
    assert slots.in_use == 1
    second.release()
    assert slots.in_use == 0


async def test_a_handed_over_lease_is_released_by_its_new_owner_only() -> None:
    slots = RegionSlots(capacity=1, wait_seconds=0.0)
    lease = await slots.acquire()
    stream_lease = lease.hand_over()
    lease.release()  # the router's release after the hand-over: nothing to give back
    assert slots.in_use == 1
    with pytest.raises(RuntimeError):
        lease.hand_over()  # a lease that holds nothing cannot hand anything over
    stream_lease.release()
    stream_lease.release()
    assert slots.in_use == 0
