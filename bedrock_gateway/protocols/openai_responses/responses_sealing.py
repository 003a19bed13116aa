"""Reasoning sealed into `encrypted_content`: clients can carry it, but neither read nor forge it.

Bedrock's reasoning (text + signature, or redacted bytes) must come back on the next turn for
multi-turn reasoning with tools on Claude models; clients that run with `store: false` (Codex)
keep it only as `encrypted_content`. Sealing is AES-256-GCM (authenticated encryption, from the
`cryptography` package) under a key derived with HKDF-SHA256 from an operator secret
(RESPONSES_ENCRYPTION_KEY / RESPONSES_ENCRYPTION_KEY_FILE). Several secrets may be configured for
rotation: the first seals, every one opens. A sealed value is
`bgr1.` + base64url(key id (4 bytes) || nonce (12 bytes) || ciphertext+tag).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Sequence

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "bgr1."
_AAD = b"bedrock-gateway/responses/reasoning/v1"
_INFO = b"bedrock-gateway responses reasoning sealing v1"


def _derive(secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        secret.encode())


class ReasoningSealer:
    """Seals and opens reasoning payloads; `secrets` newest first (the first one seals)."""

    __slots__ = ("_keys", "_sealer")

    def __init__(self, secrets: Sequence[str]) -> None:
        if not secrets:
            raise ValueError("at least one secret is needed")
        keys = []
        for secret in secrets:
            key = _derive(secret)
            keys.append((hashlib.sha256(key).digest()[:4], AESGCM(key)))
        self._keys = dict(reversed(keys))  # the newest wins a (never expected) id collision
        self._sealer = keys[0]

    @classmethod
    def ephemeral(cls) -> ReasoningSealer:
        """A random key for this process only (when no secret is configured)."""
        return cls([base64.b64encode(os.urandom(32)).decode()])

    def seal(self, payload: dict) -> str:
        key_id, aead = self._sealer
        nonce = os.urandom(12)
        sealed = aead.encrypt(nonce, orjson.dumps(payload), _AAD)
        return PREFIX + base64.urlsafe_b64encode(key_id + nonce + sealed).decode().rstrip("=")

    def open(self, token: str) -> dict | None:
        """The payload, or None when the value was not sealed by one of our keys (or altered)."""
        if not isinstance(token, str) or not token.startswith(PREFIX):
            return None
        raw = token[len(PREFIX):]
        try:
            data = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        except (binascii.Error, ValueError):
            return None
        aead = self._keys.get(data[:4])
        if aead is None or len(data) < 4 + 12 + 16:
            return None
        try:
            payload = orjson.loads(aead.decrypt(data[4:16], data[16:], _AAD))
        except (InvalidTag, orjson.JSONDecodeError):
            return None
        return payload if isinstance(payload, dict) else None


def reasoning_payload(text: str, signature: str | None, redacted: bytes | None) -> dict:
    """What a reasoning item seals: Bedrock's reasoning block, restorable as sent."""
    if redacted is not None:
        return {"redacted": base64.b64encode(redacted).decode()}
    return {"text": text, "signature": signature or ""}


def reasoning_block(payload: dict) -> dict | None:
    """The Converse `reasoningContent` body for an opened payload (None if malformed)."""
    if isinstance(payload.get("redacted"), str):
        try:
            return {"redactedContent": base64.b64decode(payload["redacted"])}
        except (binascii.Error, ValueError):
            return None
    text, signature = payload.get("text"), payload.get("signature")
    if not isinstance(text, str) or not isinstance(signature, str) or not signature:
        return None
    return {"reasoningText": {"text": text, "signature": signature}}
