"""The frame encoder, checked with botocore's own event-stream parser."""

from __future__ import annotations

import json
import zlib

from botocore.eventstream import EventStreamBuffer

from bedrock_gateway.emulator.eventstream_encoder import (
    encode_event,
    encode_events,
    encode_exception,
)


def decode(data: bytes) -> list:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return list(buffer)


def test_event_frame_decodes_with_botocore():
    payload = {"delta": {"text": "héllo \u2603 \"quoted\""}, "contentBlockIndex": 0}
    [message] = decode(encode_event("contentBlockDelta", payload))
    assert message.headers == {":message-type": "event", ":event-type": "contentBlockDelta",
                               ":content-type": "application/json"}
    body = json.loads(message.payload)
    assert body.pop("p")  # the padding field real Bedrock adds
    assert body == payload


def test_empty_payload_and_several_frames_in_one_buffer():
    data = encode_event("messageStart", {"role": "assistant"}) + encode_event("x", {})
    first, second = decode(data)
    assert json.loads(first.payload)["role"] == "assistant"
    assert set(json.loads(second.payload)) == {"p"}


def test_exception_frame():
    [message] = decode(encode_exception("throttlingException", "slow down"))
    assert message.headers[":message-type"] == "exception"
    assert message.headers[":exception-type"] == "throttlingException"
    assert json.loads(message.payload) == {"message": "slow down"}


def test_crcs_and_lengths():
    frame = encode_event("messageStop", {"stopReason": "end_turn"})
    total = int.from_bytes(frame[:4], "big")
    assert total == len(frame)
    assert int.from_bytes(frame[8:12], "big") == zlib.crc32(frame[:8])
    assert int.from_bytes(frame[-4:], "big") == zlib.crc32(frame[:-4])


def test_frames_split_at_any_byte_still_decode():
    data = b"".join(encode_event("contentBlockDelta", {"delta": {"text": f"w{i}"}})
                    for i in range(5))
    buffer = EventStreamBuffer()
    messages = []
    for i in range(0, len(data), 7):
        buffer.add_data(data[i:i + 7])
        messages.extend(buffer)
    assert [json.loads(m.payload)["delta"]["text"] for m in messages] == [
        f"w{i}" for i in range(5)]


def test_encode_events_matches_encode_event():
    events = [("messageStart", {"role": "assistant"}),
              ("contentBlockDelta", {"delta": {"text": "a"}, "contentBlockIndex": 0}),
              ("contentBlockDelta", {"delta": {"text": "b"}, "contentBlockIndex": 0})]
    assert encode_events(events) == [encode_event(*event) for event in events]
