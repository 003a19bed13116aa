"""OpenTelemetry traces end to end: a real gateway exports over OTLP/HTTP to a real receiver.

One streamed chat request that fails over (us-east-1 throttles ConverseStream) must produce,
in the caller's W3C trace, one SERVER span with the GenAI attributes and one CLIENT span per
region attempt: the throttled one first, then the successful one carrying the usage. The
access log line of that request carries the same trace id. Without an OTLP endpoint nothing is
exported and the access log's trace_id is null.
"""

from __future__ import annotations

import secrets


from tests.support.constants import HAIKU
from tests.support.otel_checks import CHUNKS, access_lines, otel_env, streamed_chat

REGIONS = ("us-east-1", "us-west-2")


async def test_streamed_failover_is_one_trace_with_server_and_client_spans(
        receiver, make_gateway, emulator, capsys):
    await emulator.add_fault(region="us-east-1", operation="converse-stream",
                             error="ThrottlingException")
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    gateway = await make_gateway(environ=otel_env(receiver, OTEL_SERVICE_NAME="gw-test"),
                                 bedrock_regions=REGIONS, bedrock_max_attempts=1,
                                 access_log=True)
    chunks, headers = await streamed_chat(
        gateway, {"traceparent": f"00-{trace_id}-{parent_id}-01"})
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == CHUNKS
    request_id = headers.get("X-Request-Id")
    assert request_id

    await receiver.wait_for_spans(3)
    await gateway.flush_telemetry()  # anything else of this trace is exported by now
    spans = [s for s in receiver.spans if s["trace_id"] == trace_id]

    servers = [s for s in spans if s["kind"] == "SERVER"]
    clients = sorted((s for s in spans if s["kind"] == "CLIENT"),
                     key=lambda s: s["start_time_unix_nano"])
    assert len(servers) == 1, spans
    assert len(clients) == 2, spans
    assert len(spans) == 3
    server = servers[0]
    assert server["parent_span_id"] == parent_id
    assert server["resource"]["service.name"] == "gw-test"
    attrs = server["attributes"]
    assert server["name"] == f"chat {HAIKU}"
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "aws.bedrock"
    assert attrs["gen_ai.request.model"] == HAIKU
    assert attrs["gen_ai.usage.input_tokens"] > 0
    assert attrs["gen_ai.usage.output_tokens"] == CHUNKS
    assert attrs["gen_ai.response.finish_reasons"] == ["stop"]
    assert attrs["http.response.status_code"] == 200
    assert server["status"]["code"] != "ERROR"

    throttled, served = clients
    for client_span in clients:
        assert client_span["parent_span_id"] == server["span_id"]
        assert client_span["attributes"]["gen_ai.operation.name"] == "chat"
        assert client_span["attributes"]["gen_ai.provider.name"] == "aws.bedrock"
        assert client_span["attributes"]["gen_ai.request.model"] == HAIKU
        assert client_span["end_time_unix_nano"] <= server["end_time_unix_nano"]
    assert throttled["attributes"]["error.type"] == "throttled"
    assert throttled["status"]["code"] == "ERROR"
    assert "us-east-1" in throttled["attributes"]["server.address"]
    assert "gen_ai.usage.output_tokens" not in throttled["attributes"]

    assert "us-west-2" in served["attributes"]["server.address"]
    assert "error.type" not in served["attributes"]
    assert served["status"]["code"] != "ERROR"
    assert served["attributes"]["gen_ai.usage.input_tokens"] == attrs["gen_ai.usage.input_tokens"]
    assert served["attributes"]["gen_ai.usage.output_tokens"] == CHUNKS
    assert served["attributes"]["gen_ai.response.finish_reasons"] == ["stop"]
    assert served["start_time_unix_nano"] >= throttled["end_time_unix_nano"]

    [line] = [r for r in access_lines(capsys.readouterr().out)
              if r["path"].endswith("/chat/completions")]
    assert line["trace_id"] == trace_id
    assert line["request_id"] == request_id
    assert line["region"] == "us-west-2"


async def non_streamed_spans(receiver, make_gateway, **request):
    gateway = await make_gateway(environ=otel_env(receiver))
    async with gateway.client() as client:
        completion = await client.chat.completions.create(
            model=HAIKU, messages=[{"role": "user", "content": "plain call [[emu chunks=4]]"}],
            **request)
    await receiver.wait_for_spans(2)
    [server] = [s for s in receiver.spans if s["kind"] == "SERVER"]
    [client_span] = [s for s in receiver.spans if s["kind"] == "CLIENT"]
    return completion, server, client_span


async def test_non_streamed_request_client_span_carries_usage(receiver, make_gateway):
    completion, server, client_span = await non_streamed_spans(receiver, make_gateway)
    assert client_span["trace_id"] == server["trace_id"]
    assert client_span["parent_span_id"] == server["span_id"]
    assert server["parent_span_id"] == ""  # no incoming traceparent: a new root
    for span in (server, client_span):
        assert span["attributes"]["gen_ai.usage.input_tokens"] == completion.usage.prompt_tokens
        assert span["attributes"]["gen_ai.usage.output_tokens"] == 4
        assert span["attributes"]["gen_ai.response.finish_reasons"] == ["stop"]
    assert client_span["attributes"]["rpc.method"] == "Converse"
    assert "us-east-1" in client_span["attributes"]["server.address"]
    # The caller's key id (a static key: static-<8 hex of its SHA-256>), never the key.
    key_id = server["attributes"]["gateway.key.id"]
    assert key_id.startswith("static-") and len(key_id) == len("static-") + 8
    assert server["start_time_unix_nano"] <= client_span["start_time_unix_nano"]
    assert client_span["end_time_unix_nano"] <= server["end_time_unix_nano"]


async def test_spans_carry_request_max_tokens(receiver, make_gateway):
    _, server, client_span = await non_streamed_spans(receiver, make_gateway, max_tokens=50)
    assert server["attributes"]["gen_ai.request.max_tokens"] == 50
    assert client_span["attributes"]["gen_ai.request.max_tokens"] == 50


async def test_without_endpoint_no_spans_and_null_trace_id(receiver, make_gateway, capsys):
    # The receiver runs, but the gateway is not told about it.
    gateway = await make_gateway(environ={"OTEL_SERVICE_NAME": "gw-test"}, access_log=True)
    trace_id = secrets.token_hex(16)
    chunks, headers = await streamed_chat(
        gateway, {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"})
    assert chunks and headers.get("X-Request-Id")
    await gateway.flush_telemetry()  # no exporter: nothing to send
    assert receiver.spans == []
    assert receiver.requests == []
    [line] = access_lines(capsys.readouterr().out)
    assert line["trace_id"] is None
    assert line["status"] == 200
