"""Raw HTTP/1.1 over a socket, for requests no HTTP client will send (malformed heads, trickled
bodies, undecodable header bytes)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import orjson


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> dict:
        return orjson.loads(self.body)


def parse(raw: bytes) -> RawResponse:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = body[:int(headers["content-length"])]
    return RawResponse(status, headers, body)


async def read_response(reader: asyncio.StreamReader, within: float = 10.0) -> RawResponse:
    """One response (Content-Length framed, or up to EOF), read within `within` seconds."""
    async with asyncio.timeout(within):
        head = await reader.readuntil(b"\r\n\r\n")
        response = parse(head)
        if "content-length" in response.headers:
            response.body = await reader.readexactly(int(response.headers["content-length"]))
        else:
            response.body = await reader.read()
    return response


async def exchange(port: int, data: bytes, within: float = 10.0) -> RawResponse:
    """Send `data` on a new connection and read one response."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await read_response(reader, within)
    finally:
        writer.close()


async def closed_within(reader: asyncio.StreamReader, within: float) -> bytes | None:
    """What the server sent before closing the connection, or None if it stayed open."""
    try:
        async with asyncio.timeout(within):
            return await reader.read()
    except TimeoutError:
        return None


def request(method: str, path: str, headers: dict[str, str | bytes] | None = None,
            body: bytes = b"", *, raw_headers: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: 127.0.0.1"]
    for name, value in (headers or {}).items():
        lines.append(name.encode() + b": " + (value if isinstance(value, bytes) else
                                               value.encode()))
    if body and not any(n.lower() == "content-length" for n in headers or {}):
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n" + raw_headers + b"\r\n" + body


def assert_openai_error(response: RawResponse, status: int, code: str | None = None) -> dict:
    assert response.status == status, (response.status, response.body[:300])
    assert response.headers.get("content-type", "").startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    if code is not None:
        assert error["code"] == code, error
    assert response.headers.get("server") == "bedrock-gateway"
    return error
