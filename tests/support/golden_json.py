"""The golden fixtures' one convention for bytes (tests/fixtures): JSON has no bytes, so a bytes
value (an image, a document) is written as {"$bytes_b64": "<base64>"}."""

from __future__ import annotations

import base64
from typing import Any


def encode_bytes(value: Any) -> Any:
    """Python data (e.g. Converse kwargs) -> its JSON-comparable form."""
    if isinstance(value, bytes):
        return {"$bytes_b64": base64.b64encode(value).decode()}
    if isinstance(value, dict):
        return {k: encode_bytes(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode_bytes(v) for v in value]
    return value


def decode_bytes(value: Any) -> Any:
    """A fixture's JSON form -> Python data with real bytes (e.g. a Converse response)."""
    if isinstance(value, dict):
        if set(value) == {"$bytes_b64"}:
            return base64.b64decode(value["$bytes_b64"])
        return {k: decode_bytes(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_bytes(v) for v in value]
    return value
