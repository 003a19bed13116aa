"""Encoder of `application/vnd.amazon.eventstream` frames, as Bedrock's streaming APIs send them.

Frame layout (big-endian): total length u32, headers length u32, prelude CRC32 (of the first 8
bytes), headers, payload, message CRC32 (of everything before it). A string header is
`[name length u8][name][type 7][value length u16][value]`.

Pure and cheap: header blocks are a few byte concatenations, payloads one `orjson.dumps`, CRCs
`zlib.crc32`. JSON payloads carry Bedrock's unmodelled padding field `"p"`.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from typing import Any

import orjson

_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")
_PAD = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_STRING = 7


def string_header(name: str, value: str) -> bytes:
    raw_name = name.encode()
    raw_value = value.encode()
    return (bytes((len(raw_name),)) + raw_name + bytes((_STRING,))
            + len(raw_value).to_bytes(2, "big") + raw_value)


def encode_frame(headers: bytes, payload: bytes) -> bytes:
    """One complete message from an already encoded header block and a payload."""
    prelude = _PRELUDE.pack(16 + len(headers) + len(payload), len(headers))
    head = prelude + _CRC.pack(zlib.crc32(prelude))
    message_crc = zlib.crc32(payload, zlib.crc32(headers, zlib.crc32(head)))
    return b"".join((head, headers, payload, _CRC.pack(message_crc)))


def event_headers(event_type: str) -> bytes:
    return (string_header(":event-type", event_type)
            + string_header(":content-type", "application/json")
            + string_header(":message-type", "event"))


def exception_headers(exception_type: str) -> bytes:
    return (string_header(":exception-type", exception_type)
            + string_header(":content-type", "application/json")
            + string_header(":message-type", "exception"))


def padding(size: int) -> str:
    """Real payloads carry a padding string whose length varies with the content."""
    return _PAD[: 1 + (size * 7) % len(_PAD)]


def encode_json_payload(payload: dict[str, Any]) -> bytes:
    body = orjson.dumps(payload)
    pad = padding(len(body)).encode()
    if body == b"{}":
        return b'{"p":"' + pad + b'"}'
    return body[:-1] + b',"p":"' + pad + b'"}'


def encode_event(event_type: str, payload: dict[str, Any]) -> bytes:
    """An event message: `:message-type=event`, `:event-type`, JSON payload with padding."""
    return encode_frame(event_headers(event_type), encode_json_payload(payload))


def encode_events(events: Iterable[tuple[str, dict[str, Any]]]) -> list[bytes]:
    """Several events at once; each event type's header block is encoded once per call."""
    headers: dict[str, bytes] = {}
    frames = []
    for event_type, payload in events:
        block = headers.get(event_type)
        if block is None:
            block = headers[event_type] = event_headers(event_type)
        frames.append(encode_frame(block, encode_json_payload(payload)))
    return frames


def encode_exception(exception_type: str, message: str) -> bytes:
    """An exception message: `:message-type=exception`, `:exception-type` (lowerCamel)."""
    return encode_frame(exception_headers(exception_type), orjson.dumps({"message": message}))
