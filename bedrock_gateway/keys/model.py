"""The virtual key record, its validation, and its secret.

A secret looks like `bgw-<id>-<random>`: the id finds the record in O(1) (no scan over every
key), and only `HMAC-SHA256(pepper + salt, secret)` is stored, with a random salt per key (the
optional pepper, `KEYS_PEPPER`, is a server-side secret that a stolen keys file lacks). The
secret itself exists only in the creation response.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bedrock_gateway.errors import InvalidRequestError

SECRET_PREFIX = "bgw-"
_ID = re.compile(r"[a-z0-9]{12}")
_SECRET = re.compile(r"bgw-([a-z0-9]{12})-([A-Za-z0-9_]{32,64})")
_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,128}")
_MAX_MODELS = 64
_MAX_LIMIT = 10**12


@dataclass(frozen=True, slots=True)
class Limits:
    rpm: int = 0  # 0: unlimited
    tpm: int = 0
    max_streams: int = 0


@dataclass(frozen=True, slots=True)
class Budget:
    tokens_per_day: int = 0
    tokens_per_month: int = 0
    usd_per_month: float = 0.0


@dataclass(frozen=True, slots=True)
class VirtualKey:
    id: str
    name: str
    salt: str = field(repr=False)
    hash: str = field(repr=False)
    team: str | None = None
    models: tuple[str, ...] = ()
    limits: Limits = Limits()
    budget: Budget = Budget()
    expires_at: float | None = None  # epoch seconds
    created_at: float = 0.0
    revoked: bool = False

    def expired(self, now: float | None = None) -> bool:
        return self.expires_at is not None and (now or time.time()) >= self.expires_at

    def allows_model(self, *names: str | None) -> bool:
        """Empty `models` allows every model; else any pattern matching any of the names (the
        requested name or alias, the resolved Bedrock id, its base model id)."""
        if not self.models:
            return True
        return any(fnmatch.fnmatchcase(name, pattern)
                   for pattern in self.models for name in names if name)

    def public(self) -> dict[str, Any]:
        """The record as the admin API shows it: never the salt nor the hash."""
        return {
            "id": self.id, "object": "key", "name": self.name, "team": self.team,
            "models": list(self.models), "limits": dataclasses.asdict(self.limits),
            "budget": dataclasses.asdict(self.budget),
            "expires_at": _iso(self.expires_at), "created_at": _iso(self.created_at),
            "revoked": self.revoked,
        }

    def stored(self) -> dict[str, Any]:
        """The record as stored (keys file, Redis): with the salt and hash, never the secret."""
        return {**self.public(), "salt": self.salt, "hash": self.hash}


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def new_key_id() -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(12))


def new_secret(key_id: str) -> str:
    random = secrets.token_urlsafe(32).replace("-", "_")[:43]
    return f"{SECRET_PREFIX}{key_id}-{random}"


def key_id_of(secret: str) -> str | None:
    """The id inside a well-formed virtual key secret, else None."""
    match = _SECRET.fullmatch(secret)
    return match.group(1) if match else None


def hash_secret(secret: str, salt: str, pepper: str | None) -> str:
    key = (pepper or "").encode() + bytes.fromhex(salt)
    return hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()


def verify_secret(record: VirtualKey, secret: str, pepper: str | None) -> bool:
    return hmac.compare_digest(hash_secret(secret, record.salt, pepper), record.hash)


def mint(spec: dict[str, Any], pepper: str | None, now: float | None = None
         ) -> tuple[VirtualKey, str]:
    """A new record from a validated create request, and its secret (shown once)."""
    key_id = new_key_id()
    secret = new_secret(key_id)
    salt = secrets.token_hex(16)
    record = VirtualKey(id=key_id, salt=salt, hash=hash_secret(secret, salt, pepper),
                        created_at=now or time.time(), **spec)
    return record, secret


# -- validation (admin API bodies and the keys file share it) -----------------------------------

def _bad(message: str, param: str) -> InvalidRequestError:
    return InvalidRequestError(message, param=param)


def _count(value: Any, param: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_LIMIT:
        raise _bad(f"'{param}' must be a whole number from 0 (unlimited) to {_MAX_LIMIT}.", param)
    return value


def _object(value: Any, param: str, allowed: set[str]) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _bad(f"'{param}' must be an object.", param)
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise _bad(f"'{param}' has unknown field(s): {', '.join(unknown)}.", param)
    return value


def _expiry(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None:
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    raise _bad("'expires_at' must be an ISO 8601 time or epoch seconds.", "expires_at")


CREATE_FIELDS = {"name", "team", "models", "limits", "budget", "expires_at"}


def parse_spec(body: Any, *, partial: bool = False) -> dict[str, Any]:
    """Validated fields of a create (or, with `partial`, an update) request. Every problem is a
    400 naming the field."""
    body = _object(body, "body", CREATE_FIELDS)
    if not body and partial:
        raise _bad("Send at least one field to update.", "body")
    spec: dict[str, Any] = {}
    if "name" in body or not partial:
        name = body.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise _bad("'name' is required: 1 to 128 printable characters.", "name")
        spec["name"] = name
    if "team" in body:
        team = body["team"]
        if team is not None and (not isinstance(team, str) or not _NAME.fullmatch(team)):
            raise _bad("'team' must be 1 to 128 printable characters.", "team")
        spec["team"] = team
    if "models" in body:
        models = body["models"] or []
        if (not isinstance(models, list) or len(models) > _MAX_MODELS
                or not all(isinstance(m, str) and 0 < len(m) <= 256 for m in models)):
            raise _bad(f"'models' must be a list of up to {_MAX_MODELS} model ids, aliases or "
                       "glob patterns.", "models")
        spec["models"] = tuple(models)
    if "limits" in body:
        limits = _object(body["limits"], "limits", {"rpm", "tpm", "max_streams"})
        spec["limits"] = Limits(**{k: _count(v, f"limits.{k}") for k, v in limits.items()})
    if "budget" in body:
        budget = _object(body["budget"], "budget",
                         {"tokens_per_day", "tokens_per_month", "usd_per_month"})
        values: dict[str, Any] = {k: _count(budget.get(k), f"budget.{k}")
                                  for k in ("tokens_per_day", "tokens_per_month") if k in budget}
        usd = budget.get("usd_per_month")
        if usd is not None:
            if isinstance(usd, bool) or not isinstance(usd, (int, float)) or not 0 <= usd <= 1e9:
                raise _bad("'budget.usd_per_month' must be a number of dollars, 0 for none.",
                           "budget.usd_per_month")
            values["usd_per_month"] = float(usd)
        spec["budget"] = Budget(**values)
    if "expires_at" in body:
        spec["expires_at"] = _expiry(body["expires_at"])
    return spec


def from_stored(data: Any) -> VirtualKey:
    """A record read back from the keys file or Redis (ValueError when malformed)."""
    if not isinstance(data, dict):
        raise ValueError("a key record must be a mapping")  # noqa: TRY004 - one error kind
    key_id, salt, digest = data.get("id"), data.get("salt"), data.get("hash")
    if not (isinstance(key_id, str) and _ID.fullmatch(key_id)):
        raise ValueError(f"bad key id {key_id!r}")
    if not (isinstance(salt, str) and isinstance(digest, str) and len(digest) == 64):
        raise ValueError(f"key {key_id}: salt and hash are required")
    try:
        bytes.fromhex(salt)
        spec = parse_spec({k: data[k] for k in CREATE_FIELDS if k in data})
    except (ValueError, InvalidRequestError) as exc:
        raise ValueError(f"key {key_id}: {exc}") from None
    created = _expiry(data.get("created_at")) if data.get("created_at") else 0.0
    return VirtualKey(id=key_id, salt=salt, hash=digest, created_at=created or 0.0,
                      revoked=bool(data.get("revoked", False)), **spec)
