"""Fault rules, set through the control API, applied per request by region, operation and model.

A rule (JSON): `{"region": "us-east-1" | "*", "operation": "converse" | "converse-stream" |
"invoke" | "invoke-stream" | "count-tokens" | "list-foundation-models" |
"list-inference-profiles" | "*",
"model": optional id (matches the id as requested or the foundation model it reaches),
"contains": optional text the raw request body must contain (lets one request, marked in its
prompt, meet a fault in one region only), and effects: "error": PascalCase code (pre-stream error
response) | "stream_error": lowerCamel member with "error_after": N events | "stall_s": S with
"stall_after": N | "delay_ms": X (pause between events) | "latency_ms": X (before the response
headers) | "drop": true (close the connection without answering: a connection fault); "times": N
requests it applies to (absent: until cleared)}`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from bedrock_gateway.emulator.emulated_errors import lower_camel, pascal_case

OPERATIONS = ("converse", "converse-stream", "invoke", "invoke-stream", "count-tokens",
              "list-foundation-models", "list-inference-profiles")
_FIELDS = ("region", "operation", "model", "contains", "error", "stream_error", "error_after",
           "stall_s", "stall_after", "delay_ms", "latency_ms", "drop", "times")


@dataclass(slots=True)
class FaultRule:
    id: str
    region: str = "*"
    operation: str = "*"
    model: str | None = None
    contains: str | None = None
    error: str | None = None
    stream_error: str | None = None
    error_after: int = 0
    stall_s: float | None = None
    stall_after: int | None = None
    delay_ms: float | None = None
    latency_ms: float | None = None
    drop: bool | None = None
    times: int | None = None  # requests left; None: until cleared
    _needle: bytes | None = None

    def matches(self, region: str, operation: str, models: Iterable[str | None],
                body: bytes = b"") -> bool:
        return ((self.region in ("*", region)) and (self.operation in ("*", operation))
                and (self.model is None or self.model in models)
                and (self._needle is None or self._needle in body))

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None and not k.startswith("_")}


def parse_rule(rule_id: str, data: Any) -> FaultRule:
    """A rule from its JSON form. ValueError / TypeError name what is wrong."""
    if not isinstance(data, Mapping):
        raise TypeError("a fault rule is a JSON object")
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise ValueError(f"unknown fault field(s) {unknown}; known: {list(_FIELDS)}")
    operation = data.get("operation", "*")
    if operation != "*" and operation not in OPERATIONS:
        raise ValueError(f"operation must be '*' or one of {list(OPERATIONS)}")
    rule = FaultRule(rule_id, region=str(data.get("region", "*")), operation=operation,
                     model=data.get("model"))
    if data.get("contains") is not None:
        if not isinstance(data["contains"], str) or not data["contains"]:
            raise ValueError("contains must be a non-empty string")
        rule.contains, rule._needle = data["contains"], data["contains"].encode()
    if data.get("drop") is not None:
        if not isinstance(data["drop"], bool):
            raise ValueError("drop must be true or false")
        rule.drop = data["drop"] or None
    if data.get("error"):
        rule.error = pascal_case(str(data["error"]))
    if data.get("stream_error"):
        rule.stream_error = lower_camel(str(data["stream_error"]))
    for name, kind in (("error_after", int), ("stall_after", int), ("times", int),
                       ("stall_s", float), ("delay_ms", float), ("latency_ms", float)):
        if data.get(name) is not None:
            value = kind(data[name])
            if value < 0:
                raise ValueError(f"{name} must be >= 0")
            setattr(rule, name, value)
    if rule.stall_s is not None and rule.stall_after is None:
        rule.stall_after = 0
    if not any((rule.error, rule.stream_error, rule.stall_s is not None,
                rule.delay_ms is not None, rule.latency_ms is not None, rule.drop)):
        raise ValueError("a fault rule needs an effect: error, stream_error, stall_s, delay_ms, "
                         "latency_ms or drop")
    return rule


@dataclass(frozen=True, slots=True)
class Effects:
    """What the matching rules do to one request (the first rule that sets a field wins)."""

    error: str | None = None
    stream_error: str | None = None
    error_after: int = 0
    stall_after: int | None = None
    stall_s: float = 0.0
    delay_ms: float | None = None
    latency_ms: float = 0.0
    drop: bool = False


@dataclass
class FaultBook:
    """The active rules of one emulator app."""

    rules: list[FaultRule] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def add(self, data: Any) -> FaultRule:
        rule = parse_rule(f"fault-{next(self._ids)}", data)
        self.rules.append(rule)
        return rule

    def remove(self, rule_id: str) -> bool:
        before = len(self.rules)
        self.rules = [r for r in self.rules if r.id != rule_id]
        return len(self.rules) != before

    def clear(self) -> None:
        self.rules.clear()

    def take(self, region: str, operation: str, *models: str | None,
             body: bytes = b"") -> Effects:
        """The effects of every rule matching this request; spends one of each rule's `times`."""
        if not self.rules:
            return Effects()
        values: dict[str, Any] = {}
        for rule in list(self.rules):
            if not rule.matches(region, operation, models, body):
                continue
            if rule.times is not None:
                rule.times -= 1
                if rule.times <= 0:
                    self.rules.remove(rule)
            if rule.error:
                values.setdefault("error", rule.error)
            if rule.stream_error:
                values.setdefault("stream_error", rule.stream_error)
                values.setdefault("error_after", rule.error_after)
            if rule.stall_s is not None:
                values.setdefault("stall_s", rule.stall_s)
                values.setdefault("stall_after", rule.stall_after)
            if rule.drop:
                values.setdefault("drop", True)
            for name in ("delay_ms", "latency_ms"):
                if getattr(rule, name) is not None:
                    values.setdefault(name, getattr(rule, name))
        return Effects(**values)
