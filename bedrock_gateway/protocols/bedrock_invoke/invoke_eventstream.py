"""Encoder of `application/vnd.amazon.eventstream` messages, as InvokeModelWithResponseStream
sends them: `chunk` events whose JSON payload holds the model's bytes base64-encoded, and
exception messages.

Message layout (big-endian): total length u32, headers length u32, CRC32 of those 8 bytes,
headers, payload, CRC32 of everything before it. A string header is `[name length u8][name]
[type 7][value length u16][value]`.
"""

from __future__ import annotations

import base64
import struct
import zlib

import orjson

_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")
_STRING_TYPE = 7


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return (bytes((len(raw_name),)) + raw_name + bytes((_STRING_TYPE,))
            + len(raw_value).to_bytes(2, "big") + raw_value)


def encode_message(headers: bytes, payload: bytes) -> bytes:
    prelude = _PRELUDE.pack(16 + len(headers) + len(payload), len(headers))
    head = prelude + _CRC.pack(zlib.crc32(prelude))
    crc = zlib.crc32(payload, zlib.crc32(headers, zlib.crc32(head)))
    return b"".join((head, headers, payload, _CRC.pack(crc)))


_CHUNK_HEADERS = (_header(":event-type", "chunk") + _header(":content-type", "application/json")
                  + _header(":message-type", "event"))


def encode_chunk_event(data: bytes) -> bytes:
    """One `chunk` event carrying `data` (the model's JSON document) in `bytes`."""
    payload = b'{"bytes":"' + base64.b64encode(data) + b'"}'
    return encode_message(_CHUNK_HEADERS, payload)


def encode_exception(exception_type: str, message: str) -> bytes:
    """An exception message (`:exception-type` is the lowerCamel member, e.g.
    `throttlingException`)."""
    headers = (_header(":exception-type", exception_type)
               + _header(":content-type", "application/json")
               + _header(":message-type", "exception"))
    return encode_message(headers, orjson.dumps({"message": message}))
