"""The operator's price table for USD budgets (`KEYS_PRICE_TABLE_FILE`, YAML):

    anthropic.claude-3-haiku-*: {input_per_million: 0.25, output_per_million: 1.25}
    "*sonnet*": {input_per_million: 3, output_per_million: 15}

Patterns are globs over the requested model name and the resolved Bedrock id; the first match
wins. A model without a price costs nothing (its tokens still count against token budgets).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Price:
    input_per_million: float
    output_per_million: float


class PriceTable:
    def __init__(self, prices: dict[str, Price] | None = None) -> None:
        self._prices = prices or {}

    @classmethod
    def load(cls, path: str) -> PriceTable:
        import yaml

        try:
            with open(path, encoding="utf-8") as handle:
                data = yaml.safe_load(handle) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise RuntimeError(f"KEYS_PRICE_TABLE_FILE cannot be read: {exc}") from None
        if not isinstance(data, dict):
            raise RuntimeError("KEYS_PRICE_TABLE_FILE must map model patterns to prices")  # noqa: TRY004
        prices = {}
        for pattern, entry in data.items():
            try:
                prices[str(pattern)] = Price(float(entry["input_per_million"]),
                                             float(entry["output_per_million"]))
            except (TypeError, KeyError, ValueError):
                raise RuntimeError(
                    f"KEYS_PRICE_TABLE_FILE: {pattern!r} needs numeric input_per_million and "
                    "output_per_million") from None
        return cls(prices)

    def micros(self, names: tuple[str | None, ...], input_tokens: int,
               output_tokens: int) -> int:
        """Cost in millionths of a dollar (integers add up exactly in Redis)."""
        for pattern, price in self._prices.items():
            if any(name and fnmatch.fnmatchcase(name, pattern) for name in names):
                return round(input_tokens * price.input_per_million
                             + output_tokens * price.output_per_million)
        return 0
