"""Keeping client bytes out of the process's logs.

aiohttp's loggers quote what they failed on: a malformed header line (`Authorization: Bearer
<key>\\x00`), a request line with a query string, a traceback whose exception message holds the
line. `AiohttpLogFilter` rewrites every record of aiohttp's loggers to its message template and
the exception's class name: no arguments, no exception text, no traceback. It is installed once
per logger (idempotent) by `install_aiohttp_log_filter`, from `create_app`, so every way of
running the app gets it.

`printable` turns any text a client controls into something every sink accepts: non-UTF-8 header
bytes arrive from aiohttp as lone surrogates, which no JSON encoder or UTF-8 stream accepts.
"""

from __future__ import annotations

import logging

AIOHTTP_LOGGERS = ("aiohttp.access", "aiohttp.client", "aiohttp.internal", "aiohttp.server",
                   "aiohttp.web", "aiohttp.websocket")


class AiohttpLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if record.args:
            message = message.replace("%s", "-").replace("%r", "-").replace("%d", "-")
        if record.exc_info and record.exc_info[1] is not None:
            message = f"{message} ({type(record.exc_info[1]).__name__})"
        elif record.exc_info and record.exc_info[0] is not None:
            message = f"{message} ({record.exc_info[0].__name__})"
        record.msg = message
        record.args = None
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True


def install_aiohttp_log_filter() -> None:
    for name in AIOHTTP_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, AiohttpLogFilter) for f in logger.filters):
            logger.addFilter(AiohttpLogFilter())


def printable(text: str | None, limit: int) -> str | None:
    """`text` cut to `limit` characters, with undecodable bytes and control characters escaped."""
    if text is None:
        return None
    text = text[:limit]
    if text.isprintable():
        return text
    # Lone surrogates (undecodable bytes) become \\udcff, control characters \\x00-style escapes.
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
