"""Tracing end to end through a real OTLP/HTTP receiver, and the OTEL_* variables it honours."""

from __future__ import annotations


import pytest
from opentelemetry.sdk.trace import sampling

from bedrock_gateway.telemetry.otel_env import read_config
from bedrock_gateway.telemetry.tracing import Tracing
from tests.support.otlp_receiver import OtlpReceiver

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT}-01"


class Throttled(Exception):
    code = "throttled"


@pytest.fixture
async def receiver():
    async with OtlpReceiver() as r:
        yield r


def env(receiver: OtlpReceiver, **extra: str) -> dict[str, str]:
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_SERVICE_NAME": "t",
            "OTEL_BSP_SCHEDULE_DELAY": "50", **extra}


async def test_failover_trace_reaches_the_collector(receiver: OtlpReceiver) -> None:
    tracing = Tracing.from_env(env(receiver, OTEL_RESOURCE_ATTRIBUTES="deployment.environment=ci"),
                               service_version="1.0")
    assert tracing.enabled
    headers = {"traceparent": TRACEPARENT, "tracestate": "vendor=1"}
    with tracing.server_span(headers, route="/v1/chat/completions", method="POST",
                             operation="chat", model=MODEL, max_tokens=256) as server:
        throttled = tracing.start_bedrock_span(
            server, operation="chat", model=MODEL, region="us-east-1", max_tokens=256,
            rpc_method="ConverseStream")
        tracing.set_error(throttled, Throttled.code)
        tracing.end_span(throttled)
        call = tracing.start_bedrock_span(server, operation="chat", model=MODEL,
                                          region="us-west-2")
        tracing.set_usage(call, input_tokens=12, output_tokens=34)
        tracing.set_finish_reasons(call, ["stop"])
        tracing.end_span(call)
        tracing.set_usage(server, input_tokens=12, output_tokens=34)
        tracing.set_http_status(server, 200)
        trace_id = tracing.trace_id(server)
    assert trace_id == TRACE_ID

    spans = await receiver.wait_for_spans(3)
    await tracing.shutdown()
    by_kind: dict[str, list[dict]] = {}
    for span in spans:
        by_kind.setdefault(span["kind"], []).append(span)
    (root,) = by_kind["SERVER"]
    first, second = sorted(by_kind["CLIENT"], key=lambda s: s["start_time_unix_nano"])

    assert {s["trace_id"] for s in spans} == {TRACE_ID}
    assert root["parent_span_id"] == PARENT
    assert first["parent_span_id"] == second["parent_span_id"] == root["span_id"]

    assert root["name"] == f"chat {MODEL}"
    assert root["attributes"] == {
        "http.request.method": "POST", "http.route": "/v1/chat/completions",
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "aws.bedrock",
        "gen_ai.request.model": MODEL, "gen_ai.request.max_tokens": 256,
        "gen_ai.usage.input_tokens": 12, "gen_ai.usage.output_tokens": 34,
        "http.response.status_code": 200,
    }
    assert root["status"]["code"] == "UNSET"
    assert root["resource"]["service.name"] == "t"
    assert root["resource"]["service.version"] == "1.0"
    assert root["resource"]["deployment.environment"] == "ci"

    assert first["name"] == f"chat {MODEL}"
    assert first["attributes"]["error.type"] == "throttled"
    assert first["status"] == {"code": "ERROR", "message": "throttled"}
    assert first["attributes"]["server.address"] == "bedrock-runtime.us-east-1.amazonaws.com"
    assert first["attributes"]["cloud.region"] == "us-east-1"
    assert first["attributes"]["rpc.method"] == "ConverseStream"
    assert first["attributes"]["gen_ai.request.max_tokens"] == 256
    assert "gen_ai.usage.input_tokens" not in first["attributes"]

    assert second["status"]["code"] == "UNSET"
    assert "error.type" not in second["attributes"]
    assert second["attributes"]["cloud.region"] == "us-west-2"
    assert second["attributes"]["gen_ai.provider.name"] == "aws.bedrock"
    assert second["attributes"]["gen_ai.usage.input_tokens"] == 12
    assert second["attributes"]["gen_ai.usage.output_tokens"] == 34
    assert second["attributes"]["gen_ai.response.finish_reasons"] == ["stop"]


async def test_new_trace_without_traceparent_and_late_model(receiver: OtlpReceiver) -> None:
    tracing = Tracing.from_env(env(receiver), service_version="1.0")
    with tracing.server_span({}, route="/v1/chat/completions", method="POST",
                             operation="chat", model=None) as server:
        tracing.set_request(server, model=MODEL, max_tokens=10, temperature=0.5)
        tracing.set_http_status(server, 503)
    (span,) = await receiver.wait_for_spans(1)
    await tracing.shutdown()
    assert span["parent_span_id"] == ""
    assert len(span["trace_id"]) == 32 and span["trace_id"] != "0" * 32
    assert span["name"] == f"chat {MODEL}"
    assert span["attributes"]["gen_ai.request.temperature"] == 0.5
    assert span["status"]["code"] == "ERROR"
    assert span["attributes"]["error.type"] == "503"


async def test_escaping_exception_marks_server_span(receiver: OtlpReceiver) -> None:
    tracing = Tracing.from_env(env(receiver), service_version="1.0")
    with pytest.raises(KeyError), tracing.server_span(
        {}, route="/health", method="GET", operation="health", model=None,
    ):
        raise KeyError("secret user text")
    (span,) = await receiver.wait_for_spans(1)
    await tracing.shutdown()
    assert span["name"] == "GET /health"
    assert "gen_ai.operation.name" not in span["attributes"]
    assert span["attributes"]["error.type"] == "KeyError"
    assert "secret" not in span["status"]["message"]


async def test_headers_and_signal_endpoint(receiver: OtlpReceiver) -> None:
    tracing = Tracing.from_env({
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{receiver.url}/v1/traces",
        "OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=abc%20def,x-tenant=t1",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
    }, service_version="2")
    assert not tracing.metrics_enabled  # the traces endpoint alone enables only traces
    with tracing.server_span({}, route="r", method="GET", operation="chat", model="m"):
        pass
    await receiver.wait_for_spans(1)
    await tracing.shutdown()
    assert receiver.requests[0]["x-api-key"] == "abc def"
    assert receiver.requests[0]["x-tenant"] == "t1"
    assert receiver.spans[0]["resource"]["service.name"] == "bedrock-gateway"


async def test_genai_metrics_are_exported(receiver: OtlpReceiver) -> None:
    tracing = Tracing.from_env(env(receiver), service_version="1.0")
    assert tracing.metrics_enabled
    tracing.record_operation(MODEL, 1.5, 100, 20, region="us-east-1")
    tracing.record_operation(MODEL, 0.2, None, None, error_type="throttled")
    await tracing.force_flush()
    usage = await receiver.wait_for_metric("gen_ai.client.token.usage")
    duration = await receiver.wait_for_metric("gen_ai.client.operation.duration")
    await tracing.shutdown()
    by_type = {p["attributes"]["gen_ai.token.type"]: p for p in usage}
    assert by_type["input"]["sum"] == 100 and by_type["output"]["sum"] == 20
    assert by_type["input"]["unit"] == "{token}"
    assert by_type["input"]["attributes"]["gen_ai.provider.name"] == "aws.bedrock"
    assert by_type["input"]["bounds"][:3] == [1, 4, 16]
    assert {p["unit"] for p in duration} == {"s"}
    errors = [p for p in duration if p["attributes"].get("error.type") == "throttled"]
    assert errors and errors[0]["count"] == 1
    assert sum(p["count"] for p in duration) == 2


async def test_sampler_always_off_exports_nothing_but_keeps_incoming_trace_id(
    receiver: OtlpReceiver,
) -> None:
    tracing = Tracing.from_env(env(receiver, OTEL_TRACES_SAMPLER="always_off"),
                               service_version="1")
    with tracing.server_span({"traceparent": TRACEPARENT}, route="r", method="POST",
                             operation="chat", model="m") as span:
        assert tracing.trace_id(span) == TRACE_ID
    await tracing.force_flush()
    await tracing.shutdown()
    assert receiver.spans == []


async def test_two_apps_trace_to_their_own_collectors_without_globals() -> None:
    from opentelemetry import metrics, trace

    async with OtlpReceiver() as r1, OtlpReceiver() as r2:
        t1 = Tracing.from_env(env(r1, OTEL_SERVICE_NAME="one"), service_version="1")
        t2 = Tracing.from_env(env(r2, OTEL_SERVICE_NAME="two"), service_version="1")
        for tracing in (t1, t2):
            with tracing.server_span({}, route="r", method="GET", operation="chat", model="m"):
                pass
        (s1,) = await r1.wait_for_spans(1)
        (s2,) = await r2.wait_for_spans(1)
        await t1.shutdown()
        await t2.shutdown()
    assert (s1["resource"]["service.name"], s2["resource"]["service.name"]) == ("one", "two")
    # Nothing was installed globally.
    assert type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider"
    assert type(metrics.get_meter_provider()).__name__ == "_ProxyMeterProvider"


@pytest.mark.parametrize("environ", [
    {},
    {"OTEL_SERVICE_NAME": "x"},
    {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_SDK_DISABLED": "true"},
    {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_TRACES_EXPORTER": "none",
     "OTEL_METRICS_EXPORTER": "none"},
])
async def test_disabled_is_a_no_op(environ: dict[str, str]) -> None:
    tracing = Tracing.from_env(environ, service_version="1")
    assert not tracing.enabled and not tracing.metrics_enabled
    cm = tracing.server_span({"traceparent": TRACEPARENT}, route="r", method="GET",
                             operation="chat", model="m")
    with cm as span:
        assert span is None
        call = tracing.start_bedrock_span(span, operation="chat", model="m", region="r")
        assert call is None
        tracing.set_usage(call, input_tokens=1, output_tokens=2)
        tracing.set_response(call, finish_reasons=["stop"])
        tracing.set_error(call, "x")
        tracing.end_span(call)
        tracing.set_http_status(span, 500)
        tracing.set_request(span, model="m")
        assert tracing.trace_id(span) is None
    # The same no-op object every time: nothing allocated per request.
    assert tracing.server_span({}, route="r", method="GET", operation="chat", model="m") is cm
    tracing.record_operation("m", 1.0, 1, 1)
    await tracing.shutdown()


async def test_disabled_sends_nothing(receiver: OtlpReceiver) -> None:
    tracing = Tracing.from_env(env(receiver, OTEL_SDK_DISABLED="TRUE"), service_version="1")
    with tracing.server_span({}, route="r", method="GET", operation="chat", model="m") as span:
        tracing.set_usage(span, input_tokens=1, output_tokens=1)
    tracing.record_operation("m", 1.0, 1, 1)
    await tracing.shutdown()
    assert receiver.spans == [] and receiver.metric_points == []


def test_config_reading() -> None:
    cfg = read_config({
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://m:4318/custom",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "a=1",
        "OTEL_EXPORTER_OTLP_HEADERS": "b=2",
        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "3",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.25",
        "OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attrs,team=a%2Cb,broken",
        "OTEL_BSP_MAX_QUEUE_SIZE": "100",
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "10",
        "OTEL_METRIC_EXPORT_INTERVAL": "1000",
        "UNRELATED": "x",
    }, service_version="3.2.1")
    assert cfg.traces is not None and cfg.metrics is not None
    assert cfg.traces.endpoint == "http://collector:4318/v1/traces"
    assert cfg.metrics.endpoint == "http://m:4318/custom"
    assert cfg.traces.headers == {"a": "1"}
    assert cfg.metrics.headers == {"b": "2"}
    assert cfg.traces.compression == "gzip" and cfg.traces.timeout == 3.0
    assert isinstance(cfg.sampler, sampling.ParentBasedTraceIdRatio)
    assert "0.25" in cfg.sampler.get_description()
    assert cfg.resource_attributes == {
        "service.name": "from-attrs", "service.version": "3.2.1", "team": "a,b"}
    assert (cfg.bsp_max_queue_size, cfg.bsp_max_export_batch_size) == (100, 10)
    assert cfg.metric_export_interval_ms == 1000


@pytest.mark.parametrize(("name", "arg", "expected"), [
    # Not parent-based by default: an unauthenticated traceparent must not decide sampling.
    (None, None, sampling.ALWAYS_ON),
    ("always_off", None, sampling.ALWAYS_OFF),
    ("ALWAYS_ON", None, sampling.ALWAYS_ON),
    ("parentbased_always_off", None, sampling.DEFAULT_OFF),
    ("parentbased_always_on", None, sampling.DEFAULT_ON),
    ("nonsense", None, sampling.ALWAYS_ON),
])
def test_sampler_names(name: str | None, arg: str | None, expected: object) -> None:
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}
    if name:
        environ["OTEL_TRACES_SAMPLER"] = name
    assert read_config(environ, service_version="1").sampler is expected


def test_bad_sampler_arg_falls_back_to_one() -> None:
    for arg in ("abc", "7"):
        cfg = read_config({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": arg},
                          service_version="1")
        assert isinstance(cfg.sampler, sampling.TraceIdRatioBased)
        assert cfg.sampler.rate == 1.0


def test_only_metrics_or_only_traces() -> None:
    base = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}
    cfg = read_config({**base, "OTEL_TRACES_EXPORTER": "none"}, service_version="1")
    assert cfg.traces is None and cfg.metrics is not None
    cfg = read_config({**base, "OTEL_METRICS_EXPORTER": "none"}, service_version="1")
    assert cfg.traces is not None and cfg.metrics is None
    cfg = read_config({**base, "OTEL_TRACES_EXPORTER": "console"}, service_version="1")
    assert cfg.traces is None
