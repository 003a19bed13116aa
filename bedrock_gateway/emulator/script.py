"""Deterministic replies: the formulas the emulator answers with, and its `[[emu ...]]` directives.

Everything here is pure, so the gateway's tests import it to compute what to expect.

Reply formula (`reply_chunks(prompt_text, n)`): with `words = prompt_text.split()` (or `["hello"]`
when the prompt has no words), chunk 0 is `"Echo:"` and chunk i (1 <= i < n) is
`" " + words[(i - 1) % len(words)]`. The full text is `"".join(chunks)`: "Echo:" followed by the
prompt's words, cycled, n - 1 of them. One chunk is one output token, and
`count_tokens(full text) == n`.

Token counting: `count_tokens(text) = len(text.split())` (whitespace-separated words).

Directives: the last user message's text may contain `[[emu key=value key=value]]`, several
allowed. A value runs to the next ` known_key=` or the closing `]]`, so it may contain spaces
(`text=Hello there`, `tool=get_weather:{"city": "Paris"}`). The directives are removed from the
prompt before the reply formula is applied.

Tool loops: when the last user turn holds only tool results, the directives of the latest user
message with text apply, and `after_tool=quote` there makes the reply
`"Tool result: " + the results' texts joined by newlines` (instead of calling the tool again):
a client that ran a tool can check the model "read" its output.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import struct
from dataclasses import dataclass
from typing import Any

import orjson

STOP_REASONS = frozenset({
    "end_turn", "max_tokens", "stop_sequence", "tool_use", "guardrail_intervened",
    "content_filtered", "model_context_window_exceeded",
})
_INT_KEYS = ("chunks", "error_after", "stall_after", "cache_read", "cache_write")
_FLOAT_KEYS = ("delay_ms", "stall_s")
_TEXT_KEYS = ("stop", "error", "stream_error", "text_before", "reasoning", "text", "redacted",
              "after_tool")
DIRECTIVE_KEYS = frozenset((*_INT_KEYS, *_FLOAT_KEYS, *_TEXT_KEYS, "tool"))
_DIRECTIVE = re.compile(r"\[\[emu\b(.*?)\]\]", re.DOTALL)
_KEY = re.compile(r"(?:^|\s)(" + "|".join(sorted(DIRECTIVE_KEYS, key=len, reverse=True)) + r")=")
_FIRST_CHUNK = "Echo:"


@dataclass(frozen=True, slots=True)
class Directives:
    chunks: int | None = None
    delay_ms: float | None = None
    stop: str | None = None
    error: str | None = None
    stream_error: str | None = None
    error_after: int | None = None
    stall_after: int | None = None
    stall_s: float | None = None
    tools: tuple[tuple[str, Any], ...] = ()
    text_before: str | None = None
    reasoning: str | None = None
    redacted: bool = False
    cache_read: int | None = None
    cache_write: int | None = None
    text: str | None = None
    after_tool: str | None = None  # "quote": answer tool results by quoting them


def parse_directives(text: str) -> tuple[str, Directives]:
    """(the text without its directives, the directives). Raises ValueError on a bad one."""
    values: dict[str, Any] = {}
    tools: list[tuple[str, Any]] = []
    for body in _DIRECTIVE.findall(text):
        for key, value in _pairs(body):
            if key == "tool":
                tools.append(_parse_tool(value))
            elif key in _INT_KEYS:
                values[key] = _number(key, value, int)
            elif key in _FLOAT_KEYS:
                values[key] = _number(key, value, float)
            elif key == "redacted":
                values[key] = value.lower() not in ("0", "false", "no", "")
            else:
                values[key] = value
    if "stop" in values and values["stop"] not in STOP_REASONS:
        raise ValueError(f"unknown stop reason {values['stop']!r}")
    if values.get("after_tool", "quote") != "quote":
        raise ValueError("after_tool must be 'quote'")
    if values.get("chunks", 1) < 1:
        raise ValueError("chunks must be >= 1")
    cleaned = _DIRECTIVE.sub("", text)
    return cleaned, Directives(tools=tuple(tools), **values)


def _pairs(body: str) -> list[tuple[str, str]]:
    matches = list(_KEY.finditer(body))
    head = body[: matches[0].start()] if matches else body
    if head.strip():
        raise ValueError(f"unknown emulator directive {head.strip()!r}; keys: "
                         + ", ".join(sorted(DIRECTIVE_KEYS)))
    pairs = []
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(body)
        pairs.append((match.group(1), body[match.end():end].strip()))
    return pairs


def _number(key: str, value: str, kind: type) -> Any:
    try:
        number = kind(value)
    except ValueError:
        raise ValueError(f"{key} must be a number, got {value!r}") from None
    if number < 0:
        raise ValueError(f"{key} must be >= 0")
    return number


def _parse_tool(value: str) -> tuple[str, Any]:
    name, _, args = value.partition(":")
    if not name.strip():
        raise ValueError("tool needs a name: tool=name:{json args}")
    try:
        parsed = orjson.loads(args) if args.strip() else {}
    except orjson.JSONDecodeError:
        raise ValueError(f"tool {name!r}: arguments are not JSON: {args!r}") from None
    return name.strip(), parsed


def reply_chunks(prompt_text: str, n: int) -> list[str]:
    """The n text chunks answering `prompt_text` (see the module docstring for the formula)."""
    words = prompt_text.split() or ["hello"]
    return [_FIRST_CHUNK] + [" " + words[(i - 1) % len(words)] for i in range(1, n)]


def reply_text(prompt_text: str, n: int) -> str:
    return "".join(reply_chunks(prompt_text, n))


def split_text(text: str, n: int) -> list[str]:
    """`text` cut into at most n non-empty pieces of near-equal length (joined, they give it)."""
    n = max(1, min(n, len(text)))
    size, extra = divmod(len(text), n)
    pieces, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        pieces.append(text[start:end])
        start = end
    return [piece for piece in pieces if piece]


def count_tokens(text: str) -> int:
    return len(text.split())


def strip_directives(text: str) -> str:
    return _DIRECTIVE.sub("", text) if "[[emu" in text else text


def stable_id(prefix: str, *parts: object) -> str:
    """A deterministic id like Bedrock's (`tooluse_` + 22 url-safe characters)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return prefix + base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def signature_for(text: str) -> str:
    return base64.b64encode(hashlib.sha256(b"signature:" + text.encode()).digest() * 2).decode()


def embedding_vector(text: str, dims: int, normalize: bool) -> list[float]:
    """Deterministic vector: value k is the k-th big-endian u16 of the stream
    sha256(seed + i.to_bytes(4)) for i = 0, 1, ..., with seed = sha256(text), mapped linearly to
    [-1, 1) as u / 32768 - 1; L2-normalized when `normalize` is true."""
    seed = hashlib.sha256(text.encode()).digest()
    raw = b"".join(hashlib.sha256(seed + i.to_bytes(4, "big")).digest()
                   for i in range((dims * 2 + 31) // 32))
    values = [u / 32768.0 - 1.0 for u in struct.unpack(f">{dims}H", raw[: dims * 2])]
    if normalize:
        norm = math.sqrt(sum(v * v for v in values)) or 1.0
        values = [v / norm for v in values]
    return values


def example_from_schema(schema: Any, _root: Any = None, _depth: int = 0) -> Any:
    """A minimal instance valid for a JSON schema: objects hold their required properties,
    arrays `minItems` items (at least 1), enums their first value, strings honour `minLength` and
    common formats, numbers their minimum. `$ref` into `#/$defs` or `#/definitions` is followed."""
    root = schema if _root is None else _root
    if not isinstance(schema, dict) or _depth > 32:
        return None
    if "$ref" in schema:
        return example_from_schema(_resolve_ref(root, schema["$ref"]), root, _depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for combinator in ("anyOf", "oneOf"):
        if schema.get(combinator):
            return example_from_schema(schema[combinator][0], root, _depth + 1)
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            part = _resolve_ref(root, part["$ref"]) if "$ref" in part else part
            merged = _merge(merged, part)
        return example_from_schema(_merge(merged, {k: v for k, v in schema.items()
                                                   if k != "allOf"}), root, _depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if kind == "object":
        properties = schema.get("properties") or {}
        return {name: example_from_schema(properties.get(name, {}), root, _depth + 1)
                for name in schema.get("required") or ()}
    if kind == "array":
        count = max(int(schema.get("minItems", 1)), 1)
        if "maxItems" in schema:
            count = min(count, int(schema["maxItems"]))
        if isinstance(schema.get("prefixItems"), list):
            return [example_from_schema(s, root, _depth + 1) for s in schema["prefixItems"]]
        return [example_from_schema(schema.get("items", {}), root, _depth + 1)
                for _ in range(count)]
    if kind in ("integer", "number"):
        low = schema["minimum"] if "minimum" in schema else schema.get("exclusiveMinimum", 0)
        value = low + (1 if "exclusiveMinimum" in schema and "minimum" not in schema else 0)
        if "maximum" in schema and value > schema["maximum"]:
            value = schema["maximum"]
        return math.ceil(value) if kind == "integer" else value
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _example_string(schema)


_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z", "date": "2024-01-01", "time": "00:00:00",
    "email": "user@example.com", "uri": "https://example.com", "uuid":
    "00000000-0000-4000-8000-000000000000", "ipv4": "192.0.2.1", "hostname": "example.com",
}


def _example_string(schema: dict[str, Any]) -> str:
    value = _FORMATS.get(schema.get("format", ""), "string")
    min_length = int(schema.get("minLength", 0))
    if len(value) < min_length:
        value = value + "x" * (min_length - len(value))
    if "maxLength" in schema:
        value = value[: int(schema["maxLength"])]
    return value


def _resolve_ref(root: Any, ref: str) -> Any:
    if not ref.startswith("#"):
        return {}
    node = root
    for part in ref.lstrip("#/").split("/") if ref != "#" else ():
        node = node.get(part.replace("~1", "/").replace("~0", "~"), {}) \
            if isinstance(node, dict) else {}
    return node


def _merge(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    merged = {**left, **right}
    if "properties" in left or "properties" in right:
        merged["properties"] = {**left.get("properties", {}), **right.get("properties", {})}
    if "required" in left or "required" in right:
        merged["required"] = list(dict.fromkeys([*left.get("required", []),
                                                 *right.get("required", [])]))
    return merged
