"""The OTLP receiver speaks the protocol: protobuf in, empty Export*ServiceResponse out."""

from __future__ import annotations

import aiohttp
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from tests.support.otlp_receiver import OtlpReceiver


def request_with_one_span() -> bytes:
    span = trace_pb2.Span(
        trace_id=bytes.fromhex("11" * 16), span_id=bytes.fromhex("22" * 8), name="s",
        kind=trace_pb2.Span.SPAN_KIND_CLIENT,
        attributes=[
            common_pb2.KeyValue(key="n", value=common_pb2.AnyValue(int_value=3)),
            common_pb2.KeyValue(key="l", value=common_pb2.AnyValue(
                array_value=common_pb2.ArrayValue(
                    values=[common_pb2.AnyValue(string_value="stop")]))),
        ],
    )
    export = trace_service_pb2.ExportTraceServiceRequest(resource_spans=[trace_pb2.ResourceSpans(
        scope_spans=[trace_pb2.ScopeSpans(spans=[span])])])
    return export.SerializeToString()


async def test_decodes_spans_and_answers_in_protobuf() -> None:
    async with OtlpReceiver() as receiver, aiohttp.ClientSession() as session:
        async with session.post(f"{receiver.url}/v1/traces", data=request_with_one_span(),
                                headers={"Content-Type": "application/x-protobuf"}) as resp:
            assert resp.status == 200
            assert resp.content_type == "application/x-protobuf"
            trace_service_pb2.ExportTraceServiceResponse().ParseFromString(await resp.read())
        (span,) = await receiver.wait_for_spans(1)
        assert span["trace_id"] == "11" * 16 and span["parent_span_id"] == ""
        assert span["kind"] == "CLIENT" and span["status"]["code"] == "UNSET"
        assert span["attributes"] == {"n": 3, "l": ["stop"]}

        async with session.post(f"{receiver.url}/v1/traces", data=b"{}",
                                headers={"Content-Type": "application/json"}) as resp:
            assert resp.status == 415
        async with session.get(f"{receiver.url}/v1/traces") as resp:
            assert resp.status == 405


async def test_wait_times_out() -> None:
    async with OtlpReceiver() as receiver:
        with pytest.raises(AssertionError):
            await receiver.wait_for_spans(1, within=0.1)
