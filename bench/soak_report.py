"""The soak's targets and its printed table (pure: reads the result dict only)."""

from __future__ import annotations

from bench.soak_client import CLASSES

MAX_RSS_GROWTH = 0.10  # after warm-up


def verdict(result: dict) -> dict:
    totals = result["totals"]
    checks = {
        "no wrong errors": totals.get("wrong_error", 0) == 0,
        "no hung requests": totals.get("hung", 0) == 0,
        "no truncated streams": totals.get("truncated", 0) == 0,
        "no Bedrock stream left open": result["bedrock_streams_left_open"] == 0,
        "healthy after": all(result["healthy_after"].values()),
        f"RSS growth after warm-up < {MAX_RSS_GROWTH:.0%}":
            result["rss_growth_after_warmup"] < MAX_RSS_GROWTH,
        "fds back to the baseline": result["fds_after"] <= result["fds_before"],
        "requests were made": result["requests"] > 0,
    }
    return {"passed": all(checks.values()), "checks": checks}


def _mib(n: int) -> str:
    return f"{n / 2**20:.0f} MiB"


def print_report(result: dict) -> None:
    options = result["options"]
    print(f"\n## Fault soak: {options['concurrency']} concurrent, {result['load_seconds']:.0f} s,"
          f" {options['regions']} region(s), seed {options['seed']}, idle timeout "
          f"{options['idle_timeout_s']:g} s "
          f"(hung = no byte for {2 * options['idle_timeout_s']:g} s)"
          "\n")
    print("| kind | " + " | ".join(CLASSES) + " | p50 s | p99 s |")
    print("|---|" + "---:|" * (len(CLASSES) + 2))
    for kind, counts in sorted(result["counts"].items()):
        latency = result["latency_s"][kind]
        print(f"| {kind} | " + " | ".join(str(counts.get(c, 0)) for c in CLASSES)
              + f" | {latency['p50']:.2f} | {latency['p99']:.2f} |")
    totals = result["totals"]
    print("| **total** | " + " | ".join(f"**{totals.get(c, 0)}**" for c in CLASSES) + " | | |")
    rate = result["requests"] / max(result["load_seconds"], 1e-9)
    print(f"\nrequests: {result['requests']} ({rate:.0f}/s); Bedrock streams left open: "
          f"{result['bedrock_streams_left_open']}")
    cpu = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in result["cpu_seconds"].items())
    machine = result["machine"]
    print(f"CPU during the load: {cpu} (machine: {machine['cpus']} CPUs, load average "
          f"{machine['load_average_1m']:.1f} at the end)")
    print(f"gateway RSS: before {_mib(result['rss_before'])}, after warm-up "
          f"{_mib(result['rss_warm'])}, end {_mib(result['rss_end'])} "
          f"({result['rss_growth_after_warmup']:+.1%}), peak {_mib(result['rss_peak'])}")
    print(f"gateway open fds: before {result['fds_before']}, peak {result['fds_peak']}, "
          f"after {result['fds_after']}")
    print("healthy after: " + ", ".join(f"{k} {'ok' if v else 'FAILED'}"
                                        for k, v in result["healthy_after"].items()))
    if result["wrong_answers"]:
        print("wrong answers: " + ", ".join(f"{n} x {what}"
                                            for what, n in result["wrong_answers"].items()))
    for problem in result["problems"][:30]:
        print(f"  problem: {problem['kind']}: {problem['klass']}: {problem['detail']}")
    checks = result["verdict"]["checks"]
    print("\n" + "\n".join(f"- [{'x' if ok else ' '}] {name}" for name, ok in checks.items()))
    print(f"\nsoak {'PASSED' if result['verdict']['passed'] else 'FAILED'}")
