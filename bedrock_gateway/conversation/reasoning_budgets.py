"""OpenAI's reasoning effort -> the thinking budget Bedrock's reasoning models take.

Chat completions (`reasoning_effort`) and the Responses API (`reasoning.effort`) both turn an
effort into `{"type": "enabled", "budget_tokens": n}` here. The numbers are the operator's
(REASONING_BUDGET_LOW, _MEDIUM, _HIGH, passed as {"low": n, "medium": n, "high": n});
`minimal` takes the low budget, `none` turns thinking off.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# The budget level each effort takes (`none` and unknown efforts take none).
_LEVEL_OF_EFFORT: Mapping[str, str] = MappingProxyType(
    {"minimal": "low", "low": "low", "medium": "medium", "high": "high"})


def thinking_for_effort(effort: str | None, budgets: Mapping[str, int]) -> dict | None:
    """The `thinking` field of additionalModelRequestFields for an effort, or None (thinking
    off: `none`, no effort, or a level without a budget). Whether the model reasons at all is
    the caller's check."""
    level = _LEVEL_OF_EFFORT.get(effort or "")
    budget = budgets.get(level) if level is not None else None
    return None if budget is None else {"type": "enabled", "budget_tokens": budget}
