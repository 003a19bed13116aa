"""How much of each measurement a run makes: the default run (~5 min on 2 cores) and --quick."""

from __future__ import annotations

from dataclasses import asdict, dataclass

EMULATOR_DELAY_MS = 10
EMULATOR_CHUNKS = 30
# Non-stream calls ask the emulator not to pace its reply: the added latency is a difference, so
# the emulated model time (30 x 10 ms) would only make the run longer.
NO_PACING = " [[emu delay_ms=0]]"


@dataclass(frozen=True)
class Plan:
    warmup: int = 20
    nonstream: int = 200  # per side, concurrency 1
    stream_c1: int = 80  # per side
    stream_c50: int = 1000
    stream_c500: int = 1000  # by 500 workers started at once
    stream_c1000: int = 1000  # one wave, gateway only (peak RSS)
    telemetry_pairs: int = 4  # (on, off) pairs, interleaved ABBA
    telemetry_requests: int = 1000
    keys_nonstream: int = 2500  # per key mode, interleaved request by request
    embed_texts: int = 1000
    embed_reps: int = 5
    failover_baseline: int = 100
    failover_first: int = 5  # the first throttle moves us-east-1 behind us-west-2 for 5 s
    failover_steady: int = 100
    failover_pure: int = 30  # every request is throttled once, then retried by the SDK
    profile_seconds: int = 15
    phase_timeout: float = 120.0

    def as_dict(self) -> dict:
        return asdict(self)


DEFAULT = Plan()
QUICK = Plan(warmup=10, nonstream=60, stream_c1=15, stream_c50=300, stream_c500=500,
             stream_c1000=1000, telemetry_pairs=1, telemetry_requests=300,
             keys_nonstream=200, embed_texts=1000,
             embed_reps=2, failover_baseline=20, failover_first=5, failover_steady=20,
             failover_pure=8, profile_seconds=5, phase_timeout=60.0)


def prompt(index: int) -> str:
    return f"Benchmark request {index}: describe the load on this gateway in a few words."
