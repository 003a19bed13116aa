"""A real OTLP/HTTP receiver for tests: decodes what the SDK's exporters send.

    async with OtlpReceiver() as receiver:
        tracing = Tracing.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, ...}, ...)
        ...
        spans = await receiver.wait_for_spans(3)

It accepts `POST /v1/traces` and `POST /v1/metrics` with `application/x-protobuf` bodies (gzip
or deflate bodies are inflated by aiohttp), answers with an empty Export*ServiceResponse, and keeps
what it received as plain dicts. Spans: name, trace_id / span_id / parent_span_id (hex, parent
"" for a root), kind ("SERVER", "CLIENT", ...), attributes (dict), status ({"code": "ERROR",
"message": ...}), resource (dict), scope, start/end times (ns). Metric points: name, unit, type
("histogram", "sum", "gauge"), attributes, and count/sum/bucket_counts/bounds or value.
Each POST's headers are kept too (`requests`), to check OTEL_EXPORTER_OTLP_HEADERS.
The exporters are synchronous and run in SDK threads, so tests must await (never block) while
the receiver, which runs on the test's event loop, is expected to answer: the `wait_for_*`
methods poll with `eventually()`, and an in-process SDK's `force_flush()` (in a thread) makes it
export at once.
"""

from __future__ import annotations

from typing import Any, Self

from aiohttp import web
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from tests.support.polling import eventually

PROTOBUF = "application/x-protobuf"


def any_value(value: Any) -> Any:
    """An OTLP AnyValue as a Python value."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    return getattr(value, kind)


def attributes(key_values: Any) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in key_values}


def _span_dict(span: Any, resource: dict, scope: str) -> dict[str, Any]:
    return {
        "name": span.name,
        "trace_id": span.trace_id.hex(),
        "span_id": span.span_id.hex(),
        "parent_span_id": span.parent_span_id.hex(),
        "links": [{"trace_id": link.trace_id.hex(), "span_id": link.span_id.hex()}
                  for link in span.links],
        "kind": trace_pb2.Span.SpanKind.Name(span.kind).removeprefix("SPAN_KIND_"),
        "attributes": attributes(span.attributes),
        "status": {
            "code": trace_pb2.Status.StatusCode.Name(span.status.code).removeprefix(
                "STATUS_CODE_"
            ),
            "message": span.status.message,
        },
        "resource": resource,
        "scope": scope,
        "start_time_unix_nano": span.start_time_unix_nano,
        "end_time_unix_nano": span.end_time_unix_nano,
    }


def _metric_points(metric: Any) -> list[dict[str, Any]]:
    kind = metric.WhichOneof("data")
    points = []
    for p in getattr(metric, kind).data_points:
        point: dict[str, Any] = {
            "name": metric.name, "unit": metric.unit, "type": kind,
            "attributes": attributes(p.attributes),
        }
        if kind in ("histogram", "exponential_histogram"):
            point.update(count=p.count, sum=p.sum)
            if kind == "histogram":
                point.update(bucket_counts=list(p.bucket_counts),
                             bounds=list(p.explicit_bounds))
        else:
            point["value"] = getattr(p, p.WhichOneof("value"))
        points.append(point)
    return points


class OtlpReceiver:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self._host = host
        self.spans: list[dict[str, Any]] = []
        self.metric_points: list[dict[str, Any]] = []
        self.requests: list[dict[str, str]] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> Self:
        app = web.Application()
        app.router.add_post("/v1/traces", self._traces)
        app.router.add_post("/v1/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, 0)
        await site.start()
        self.url = f"http://{self._host}:{self._runner.addresses[0][1]}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _read(self, request: web.Request, message: Any) -> web.Response | None:
        if request.content_type != PROTOBUF:
            return web.Response(status=415, text="only application/x-protobuf")
        message.ParseFromString(await request.read())
        self.requests.append({"path": request.path, **request.headers})
        return None

    async def _traces(self, request: web.Request) -> web.Response:
        export = trace_service_pb2.ExportTraceServiceRequest()
        if (refused := await self._read(request, export)) is not None:
            return refused
        for resource_spans in export.resource_spans:
            resource = attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.append(_span_dict(span, resource, scope_spans.scope.name))
        return _protobuf(trace_service_pb2.ExportTraceServiceResponse())

    async def _metrics(self, request: web.Request) -> web.Response:
        export = metrics_service_pb2.ExportMetricsServiceRequest()
        if (refused := await self._read(request, export)) is not None:
            return refused
        for resource_metrics in export.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    self.metric_points.extend(_metric_points(metric))
        return _protobuf(metrics_service_pb2.ExportMetricsServiceResponse())

    async def wait_for_spans(self, n: int, *, within: float = 10.0) -> list[dict[str, Any]]:
        """At least `n` spans (all received so far), or AssertionError."""
        await eventually(lambda: len(self.spans) >= n, within=within,
                         what=f"{n} spans (received {len(self.spans)})")
        return list(self.spans)

    async def wait_for_metric(self, name: str, *, within: float = 10.0) -> list[dict[str, Any]]:
        """The points of metric `name` received so far, once there is at least one."""
        def points() -> list[dict[str, Any]]:
            return [p for p in self.metric_points if p["name"] == name]

        return await eventually(points, within=within, what=f"metric {name}")


def _protobuf(message: Any) -> web.Response:
    return web.Response(body=message.SerializeToString(), content_type=PROTOBUF)
