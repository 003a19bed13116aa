"""The markdown table (one row per figure) and the rows' source, `bench.json`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Row = tuple[str, object, object, object, str, str]


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def _diff(gateway: float | None, floor: float | None) -> float | None:
    return None if gateway is None or floor is None else gateway - floor


def _met(ok: bool | None) -> str:
    return "-" if ok is None else ("yes" if ok else "no")


def _get(data: dict, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def build_rows(r: dict) -> list[Row]:
    rows: list[Row] = []

    def pair(name: str, key: str, metric: str, pct: str, unit: str = "ms") -> None:
        floor, gateway = _get(r, key, "floor", metric, pct), _get(r, key, "gateway", metric, pct)
        if floor is None and gateway is None:
            return
        rows.append((f"{name} {pct} ({unit})", floor, gateway, _diff(gateway, floor), "", "-"))

    for pct in ("p50", "p99"):
        pair("Non-stream latency c=1", "nonstream_c1", "latency_ms", pct)
    for conc in (1, 50, 500):
        key = f"stream_c{conc}"
        for pct in ("p50", "p99"):
            pair(f"TTFT c={conc}", key, "ttft_ms", pct)
        if key in r:
            bad = {side: ((_get(r, key, side, "errors") or 0)
                          + (_get(r, key, side, "incomplete") or 0))
                   for side in ("floor", "gateway")}
            requests = _get(r, key, "gateway", "requests")
            rows.append((f"Errors + incomplete streams c={conc} (of {requests})",
                         bad["floor"], bad["gateway"], None, "0", _met(bad["gateway"] == 0)))
    if "stream_c500" in r:
        floor = _get(r, "stream_c500", "floor", "chunks_per_s")
        gateway = _get(r, "stream_c500", "gateway", "chunks_per_s")
        rows.append(("Chunks/s delivered c=500", floor, gateway, _diff(gateway, floor), "", "-"))
    for conc, target in ((50, 4.0), (500, None)):
        cpu = _get(r, f"stream_c{conc}", "gateway", "cpu_s_per_1000")
        if cpu is not None:
            rows.append((f"Gateway CPU-s per 1,000 streams c={conc}", None, cpu, None,
                         f"<= {target}" if target else "", _met(cpu <= target) if target else "-"))
            chunks = _get(r, f"stream_c{conc}", "gateway", "chunks") or 0
            cpu_s = _get(r, f"stream_c{conc}", "gateway", "cpu_s")
            if chunks and cpu_s is not None:
                rows.append((f"Gateway CPU us per chunk c={conc}", None, cpu_s / chunks * 1e6,
                             None, "", "-"))
    resp = r.get("responses_stream")
    if resp:
        cpu, pct = resp["cpu_s_per_1000"], resp["cpu_diff_pct"]
        rows.append((("Responses API stream: CPU-s per 1,000 streams c=50, chat (floor) vs "
                      "responses (gateway)"), cpu["chat"], cpu["responses"], f"{pct:+.1f}%",
                     "<= +20%", _met(pct <= 20)))
        over = resp["ttft_overhead_p50_ms"]
        worse = over["responses"] - over["chat"]
        rows.append((("Responses API stream: TTFT overhead p50 c=1 over Bedrock (ms), chat vs "
                      "responses"), over["chat"], over["responses"], worse,
                     "within 20% (or 0.5 ms)",
                     _met(worse <= max(0.5, abs(over["chat"]) * 0.2))))
        rows.append(("Responses API stream: errors + incomplete", None, resp["errors"], None, "0",
                     _met(resp["errors"] == 0)))
    _messages_rows(r, rows, pair)
    after = _get(r, "stream_c50_after_burst", "gateway", "cpu_s_per_1000")
    if after is not None:
        rows.append(("Gateway CPU-s per 1,000 streams c=50, after the 1,000 burst", None, after,
                     None, "<= 4.0", _met(after <= 4.0)))
    c1000 = r.get("stream_c1000")
    if c1000:
        peak = c1000["peak_rss_mib"]
        rows.append(("Gateway peak RSS, 1,000 concurrent streams (MiB)", None, peak, None,
                     "< 300", _met(peak < 300)))
        g = c1000["gateway"]
        bad = g["errors"] + g["incomplete"]
        rows.append(("Errors + incomplete, 1,000 concurrent streams", None, bad, None, "0",
                     _met(bad == 0)))
    tel = r.get("telemetry")
    if tel:
        diff = tel["diff_pct"]
        rows.append(("Telemetry cost: CPU-s/1,000 streams, off (floor) vs on (gateway)",
                     tel["off_cpu_s_per_1000"], tel["on_cpu_s_per_1000"],
                     None if diff is None else f"{diff:+.1f}%", "< 5%",
                     _met(None if diff is None else diff < 5)))
        if tel.get("micro_us_per_request") is not None:
            pct = tel.get("micro_pct_of_on")
            rows.append(("Telemetry's own CPU per streamed request, in-process (µs)", None,
                         tel["micro_us_per_request"], None if pct is None else f"{pct:.1f}%",
                         "< 5%", _met(None if pct is None else pct < 5)))
    _micro_rows(r.get("micro"), rows)
    _keys_rows(r.get("keys"), rows)
    emb = r.get("embeddings")
    if emb:
        reps = len(emb["gateway_ms"])
        rows.append((f"Embeddings {emb['texts']} texts wall, median of {reps} (ms)",
                     emb["floor_median_ms"], emb["gateway_median_ms"],
                     _diff(emb["gateway_median_ms"], emb["floor_median_ms"]), "",
                     "-" if not emb["error_count"] else f"no ({emb['error_count']} errors)"))
        rows.append(("Gateway CPU ms per 1,000-text embeddings request", None,
                     emb.get("gateway_cpu_ms_per_request"), None, "", "-"))
    _failover_rows(r.get("failover"), rows)
    return rows


def _ratio(a: object, b: object) -> float | None:
    return a / b if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None


def _messages_rows(r: dict, rows: list[Row], pair: Callable[..., None]) -> None:
    """Anthropic Messages streaming next to chat completions (target: within 20 %)."""
    for conc in (1, 50):
        key = f"messages_stream_c{conc}"
        if key not in r:
            continue
        for pct in ("p50", "p99"):
            pair(f"Messages TTFT c={conc}", key, "ttft_ms", pct)
        bad = ((_get(r, key, "gateway", "errors") or 0)
               + (_get(r, key, "gateway", "incomplete") or 0))
        rows.append((f"Messages errors + incomplete streams c={conc}", None, bad, None, "0",
                     _met(bad == 0)))
    paired = r.get("messages_vs_chat_ttft")
    if paired:  # the same rounds for both APIs (see bench/phases.py): the figure to judge by
        chat, messages = paired["overhead_p50_ms"]["chat"], paired["overhead_p50_ms"]["messages"]
        spread = paired["round_overheads_ms"]["chat"]
        noise = (max(spread) - min(spread)) if spread else 0.0
        within = messages <= chat * 1.2 or messages - chat <= noise
        rows.append((f"Messages TTFT overhead p50 c=1, paired rounds (ms; floor = chat "
                     f"completions'; chat's round-to-round spread {noise:.3f} ms)",
                     chat, messages, f"{messages - chat:+.3f} ms",
                     "within 20% (or the spread)", _met(within)))
    else:
        overhead = {}
        for api, key in (("chat", "stream_c1"), ("messages", "messages_stream_c1")):
            overhead[api] = _diff(_get(r, key, "gateway", "ttft_ms", "p50"),
                                  _get(r, key, "floor", "ttft_ms", "p50"))
        chat, messages = overhead["chat"], overhead["messages"]
        if chat is not None and messages is not None:
            ratio = _ratio(messages, chat) if chat > 0 else None
            rows.append(("Messages TTFT overhead p50 c=1 (ms; floor = chat completions')",
                         chat, messages,
                         f"{(ratio - 1) * 100:+.0f}%" if ratio is not None else "n/a (noise)",
                         "<= +20%", _met(ratio <= 1.2) if ratio is not None else "-"))
    tr = r.get("translation")
    if tr:
        for label, key, pct in (("native (Claude)", "messages_native_us", "native_vs_chat_pct"),
                                ("through Converse", "messages_converse_us",
                                 "converse_vs_chat_pct")):
            rows.append(((f"Messages {label}: protocol CPU per 30-chunk stream, in-process (µs; "
                         "floor = chat completions')"), tr["chat_us"], tr[key],
                         f"{tr[pct]:+.0f}%", "<= +20%", _met(tr[pct] <= 20)))
    chat_cpu = _get(r, "stream_c50", "gateway", "cpu_s_per_1000")
    messages_cpu = _get(r, "messages_stream_c50", "gateway", "cpu_s_per_1000")
    ratio = _ratio(messages_cpu, chat_cpu)
    if ratio is not None:
        rows.append(("Messages CPU-s per 1,000 streams c=50 (floor = chat completions')",
                     chat_cpu, messages_cpu, f"{(ratio - 1) * 100:+.0f}%", "<= +20%",
                     _met(ratio <= 1.2)))


def _micro_rows(micro: dict | None, rows: list[Row]) -> None:
    """Hot paths per call, in-process (the unit suite checks their behaviour, not their speed)."""
    if not micro:
        return
    target = micro["text_event_target_us"]
    rows.append(("Chat translator: one text delta, in-process (µs per event)", None,
                 micro["text_event_us"], None, f"< {target:g}",
                 _met(micro["text_event_us"] < target)))
    rows.append(("Inter-chunk metrics: one ChunkTimer tick, in-process (ns)", None,
                 micro["chunk_tick_ns"], None, "", "-"))
    rows.append(("Tracing disabled: server span + usage per request, in-process (ns)", None,
                 micro["disabled_span_ns"], None, "", "-"))


def _keys_rows(keys: dict | None, rows: list[Row]) -> None:
    """Virtual-key enforcement: static key (floor) vs embedded / Redis virtual keys."""
    if not keys:
        return
    static = keys["modes"]["static"]
    for mode in ("control", "embedded", "redis"):
        entry = keys["modes"].get(mode)
        if entry is None:
            continue
        label = "static key, second process (the noise floor)" if mode == "control" else mode
        for pct in ("p50", "p99"):
            added = entry["added_ms"][pct]
            judged = pct == "p99" and mode != "control"
            rows.append((f"Keys {label}: non-stream latency c=1 {pct} (ms; floor = static key)",
                         static["latency_ms"][pct], entry["latency_ms"][pct], added,
                         "< 1 ms" if judged else "", _met(added < 1) if judged else "-"))
        pct = entry["added_cpu_pct"]
        rows.append((f"Keys {label}: CPU-s per 1,000 streams c=50 (floor = static key)",
                     static["cpu_s_per_1000_streams"], entry["cpu_s_per_1000_streams"],
                     f"{pct:+.1f}%", "" if mode == "control" else "< 10%",
                     "-" if mode == "control" else _met(pct < 10)))
    micro = dict(keys.get("limiter_micro", {}))
    ping = micro.pop("ping_after_5ms_idle", None)
    if ping:
        rows.append(("Keys: Redis PING after 5 ms idle, wall p50 / p99 (µs; the machine's floor "
                     "for a round trip)", None, ping["wall_us_p50"], ping["wall_us_p99"], "",
                     "-"))
    for mode, data in micro.items():
        rows.append((f"Keys {mode}: reserve + settle in-process c=1, wall p99 / CPU (µs)", None,
                     data["wall_us_p99"], data["cpu_us"], "", "-"))
        rows.append((f"Keys {mode}: reserve + settle in-process c=50, CPU (µs)", None,
                     data.get("c50_cpu_us"), None, "", "-"))
    for mode, data in keys.get("refused", {}).items():
        rows.append((f"Keys {mode}: CPU-s per 1,000 requests refused for rpm (a runaway client)",
                     None, data["cpu_s_per_1000"], None, "", "-"))
    wrong = sum(data["not_429"] for data in keys.get("refused", {}).values())
    rows.append(("Keys: errors (refused requests: answers other than 429)", None,
                 keys["errors"] + wrong, None, "0", _met(keys["errors"] + wrong == 0)))


def _failover_rows(fo: dict | None, rows: list[Row]) -> None:
    if not fo:
        return

    def add(label: str, base: dict, faulted: dict) -> None:
        for pct in ("p50", "p99"):
            b, f = _get(base, "latency_ms", pct), _get(faulted, "latency_ms", pct)
            errs = faulted.get("errors", 0) + faulted.get("incomplete", 0)
            rows.append((f"Failover {label} {pct} (ms; floor = no fault)", b, f, _diff(f, b), "",
                         "-" if not errs else f"no ({errs} errors)"))

    default = fo.get("backoff_default")
    if default:
        add("throttle backoff 5 s, first requests", default["no_fault"],
            default["first_requests"])
        add("throttle backoff 5 s, steady state", default["no_fault"], default["steady_state"])
    pure = fo.get("no_backoff")
    if pure:
        add("no throttle backoff (pure failover)", pure["no_fault"], pure["faulted"])


def markdown(rows: list[Row]) -> str:
    lines = ["| figure | floor | gateway | overhead | target | met |",
             "|---|---:|---:|---:|---|---|"]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def table(results: dict, extra: Callable[[dict], str] | None = None) -> str:
    text = markdown(build_rows(results))
    return text + ("\n\n" + extra(results) if extra else "")
