"""The access log: one JSON line per request, like an ALB access log, never content or keys.

Record fields (the server builds the record; this writer emits exactly these, in this order,
`null` when absent, and drops anything else):

    time         str   RFC 3339 UTC with milliseconds, "2025-01-31T12:00:00.123Z"; the writer
                       formats a float (epoch seconds) and fills the current time if absent
    request_id   str   the id returned in the response's request id header
    client       str   client address, X-Forwarded-For aware (see client_address)
    method       str   HTTP method
    path         str   request path, without the query string (the writer strips one)
    status       int   HTTP status sent (for a stream: the status of its headers)
    model        str   model id as requested (after alias resolution, if any)
    region       str   Bedrock region that served the request (the last one tried)
    stream       bool  SSE response
    duration_ms  float request start to the last byte
    ttft_ms      float request start to the first content chunk (streams), else null
    tokens_in    int   input tokens reported by Bedrock
    tokens_out   int   output tokens reported by Bedrock
    bytes_sent   int   response body bytes
    error_code   str   the OpenAI error code sent, or null
    key_id       str   the caller's key id (virtual key id, or static-<8 hex>), never the secret
    trace_id     str   32 hex digits when tracing, else null
    user_agent   str   the User-Agent header, truncated
    session_id   str   the client's session id (Claude Code's X-Claude-Code-Session-Id), or null

The fixed field set is a guard: a prompt, a message or an API key added to the record by mistake
never reaches the log. Values must be scalars; anything else is written as null.
"""

from __future__ import annotations

import io
import ipaddress
import logging
import sys
import time
from datetime import UTC, datetime
from typing import IO, Any

import orjson

from bedrock_gateway.telemetry.log_hygiene import printable

_log = logging.getLogger(__name__)

FIELDS = (
    "time", "request_id", "client", "method", "path", "status", "model", "region", "stream",
    "duration_ms", "ttft_ms", "tokens_in", "tokens_out", "bytes_sent", "error_code", "key_id",
    "trace_id", "user_agent", "session_id",
)
_SCALARS = (str, int, float, bool)
# Free-text fields a client controls get a length cap, so one request cannot write a huge line.
_MAX_TEXT = 512


def rfc3339_ms(epoch_s: float) -> str:
    """`2025-01-31T12:00:00.123Z`."""
    moment = datetime.fromtimestamp(epoch_s, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: int) -> str | None:
    """The client's address, given the TCP peer and the X-Forwarded-For header.

    Each proxy appends the address it received the request from, so with N trusted proxies in
    front of us (an ALB is 1) the client is the N-th entry from the right; entries further left
    were written by the client and can be forged. With 0 trusted proxies, or a header too short to
    hold N entries (the request did not come through all the proxies), the peer is the answer.
    Pass every X-Forwarded-For header line joined with "," (a client may send its own line first:
    the proxies append to the last). An entry that is not an IP address is not trusted either.
    """
    if trusted_proxies <= 0 or not forwarded_for:
        return peer
    entries = [e.strip() for e in forwarded_for.split(",")]
    if len(entries) < trusted_proxies:
        return peer
    try:
        return str(ipaddress.ip_address(entries[-trusted_proxies]))
    except ValueError:
        return peer


class AccessLog:
    """Writes records to `stream` (text or binary) as JSON lines, flushed one by one.

    A line per request is small next to an LLM call, and flushing each one keeps the log live
    when stdout is a pipe (as in a container). Write errors are logged once and never reach the
    request.
    """

    def __init__(self, stream: IO[Any] | None = None, enabled: bool = True) -> None:
        self._stream: IO[Any] = sys.stdout if stream is None else stream
        self.enabled = enabled
        self._text = isinstance(self._stream, io.TextIOBase)
        self._failed = False

    def write(self, record: dict[str, Any]) -> None:
        """Never raises, and always writes a line: a record that cannot be encoded is written with
        its text fields escaped."""
        if not self.enabled:
            return
        clean = sanitize(record)
        try:
            line = orjson.dumps(clean, option=orjson.OPT_APPEND_NEWLINE)
        except TypeError:  # text sanitize does not know, with lone surrogates
            line = orjson.dumps({k: printable(v, _MAX_TEXT) if isinstance(v, str) else v
                                 for k, v in clean.items()}, option=orjson.OPT_APPEND_NEWLINE)
        try:
            self._stream.write(line.decode() if self._text else line)
            self._stream.flush()
        except (OSError, ValueError) as exc:  # closed pipe or file: keep serving
            if not self._failed:
                self._failed = True
                _log.warning("access log write failed: %s", exc)


def sanitize(record: dict[str, Any]) -> dict[str, Any]:
    """The documented fields of `record`, in order, with non-scalar values replaced by None."""
    out: dict[str, Any] = {}
    for name in FIELDS:
        value = record.get(name)
        if value is not None and not isinstance(value, _SCALARS):
            value = None
        out[name] = value
    stamp = out["time"]
    if stamp is None or isinstance(stamp, (int, float)) and not isinstance(stamp, bool):
        out["time"] = rfc3339_ms(time.time() if stamp is None else stamp)
    if isinstance(out["path"], str):
        # A query string can carry tokens (`?key=...`); the path alone identifies the route.
        out["path"] = out["path"].partition("?")[0]
    # Client-controlled text: cut, and undecodable bytes or control characters escaped.
    for name in ("path", "user_agent", "client", "model", "method", "request_id"):
        if isinstance(out[name], str):
            out[name] = printable(out[name], _MAX_TEXT)
    return out
