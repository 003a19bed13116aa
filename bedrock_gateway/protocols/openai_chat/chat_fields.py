"""Small typed field readers shared by the request parsers; each names its field on error."""

from __future__ import annotations

import math

from bedrock_gateway.errors import InvalidRequestError


def field_error(message: str, param: str) -> InvalidRequestError:
    return InvalidRequestError(message, param=param)


def object_field(value: object, param: str) -> dict:
    if not isinstance(value, dict):
        raise field_error(f"'{param}' must be an object.", param)
    return value


def optional_string(value: object, param: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise field_error(f"'{param}' must be a string.", param)
    return value


def optional_bool(value: object, param: str) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise field_error(f"'{param}' must be a boolean.", param)
    return value


def optional_int(value: object, param: str, minimum: int) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise field_error(f"'{param}' must be an integer.", param)
    if value < minimum:
        raise field_error(f"'{param}' must be at least {minimum}.", param)
    return value


def optional_number(value: object, param: str, low: float, high: float) -> float | None:
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise field_error(f"'{param}' must be a number.", param)
    if not low <= value <= high:
        raise field_error(f"'{param}' must be between {low:g} and {high:g}.", param)
    return float(value)


def required_string(value: object, param: str, *, empty_ok: bool = False) -> str:
    if not isinstance(value, str) or not (value or empty_ok):
        raise field_error(f"'{param}' must be a {'' if empty_ok else 'non-empty '}string.", param)
    return value
