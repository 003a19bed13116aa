"""`make soak` in small: 100 concurrent clients for 30 s of the seeded fault mix (throttles in one
region and in all, Bedrock 5xx, mid-stream errors, stalls, disconnects, malformed bodies) against
a real gateway process and the emulator. Every request must get what it should: no wrong error,
no hang, no truncated stream, no Bedrock stream left open, healthy afterwards, fds back to the
baseline. The full run (1,000 concurrent for 10 minutes) is `make soak`."""

from __future__ import annotations

import pytest

from bench.soak import SoakOptions, run_soak
from bench.soak_report import print_report


@pytest.mark.timeout(300)  # 30 s of load, start-up, the drain and the fd checks
@pytest.mark.parametrize("regions", [1, 2], ids=["one-region", "two-regions"])
async def test_fault_soak_100_concurrent_30_seconds(tmp_path, regions):
    # A 10 s idle timeout keeps the stalls (and so the test) short; hung = no byte for 20 s.
    result = await run_soak(SoakOptions(concurrency=100, duration_s=30, regions=regions,
                                        seed=11, out=tmp_path, idle_timeout_s=10.0))
    print_report(result)
    assert result["verdict"]["checks"] == {name: True for name in result["verdict"]["checks"]}, (
        result["problems"][:10])
    # Every kind of the mix really ran, faults included.
    assert {"stream", "call", "throttle_one_region", "throttle_all", "bedrock_5xx",
            "mid_stream_error", "stall_idle", "disconnect", "malformed"} <= set(result["counts"])
    assert result["totals"]["expected_error"] > 0 and result["totals"]["ok"] > 0
