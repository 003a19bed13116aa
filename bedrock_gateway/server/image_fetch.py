"""Fetching `image_url` http(s) images for the model, with a guard against SSRF and bounded cost.

Every address a host name resolves to is checked before connecting (the check lives in the
connector's resolver, so redirects and DNS rebinding go through it too): private, loopback,
link-local (cloud metadata), multicast and reserved addresses are refused unless the operator's
allow-list (`IMAGE_FETCH_ALLOWLIST`: CIDRs or host names) permits them. A host that is an IPv4
number in any form the OS accepts (`2130706433`, `127.1`, `0177.0.0.1`, `0x7f.1`) is normalised
with `inet_aton`, the OS's own parser, and checked as the address it means.

Cost: at most MAX_REMOTE_IMAGES URLs per request (after de-duplication), fetched
IMAGE_FETCH_CONCURRENCY at a time in one task group (the first failure, or the request's end,
cancels the rest), each at most IMAGE_FETCH_MAX_BYTES, all together at most
IMAGE_FETCH_MAX_TOTAL_BYTES, and each fetch takes IMAGE_FETCH_MAX_BYTES from the process's
IMAGE_FETCH_BUDGET_BYTES before it starts (the bytes it really got are held until the request
ends). The connection pool allows PER_HOST_CONNECTIONS per host, so one slow host cannot take
the pool from everyone else.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from bedrock_gateway.errors import GatewayError, InvalidRequestError
from bedrock_gateway.server.limits import ByteBudget, Holdings

IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg",
                 "image/gif": "gif", "image/webp": "webp"}
_MAX_REDIRECTS = 3
# Amazon Bedrock takes at most 20 images per request: more are never fetched.
MAX_REMOTE_IMAGES = 20
POOL_CONNECTIONS = 64
PER_HOST_CONNECTIONS = 8


class BlockedAddressError(aiohttp.ClientConnectionError):
    pass


class FetchPolicy:
    def __init__(self, allowlist: Iterable[str]) -> None:
        self.networks = []
        self.hosts = set()
        for item in allowlist:
            try:
                self.networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                self.hosts.add(item.lower())

    def host_allowed(self, host: str) -> bool:
        return host.lower() in self.hosts

    def address_allowed(self, address: str) -> bool:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if any(ip in net for net in self.networks):
            return True
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


class GuardedResolver(AbstractResolver):
    def __init__(self, policy: FetchPolicy) -> None:
        self._policy = policy
        self._resolver = DefaultResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._resolver.resolve(host, port, family)
        if self._policy.host_allowed(host):
            return results
        for result in results:
            if not self._policy.address_allowed(result["host"]):
                raise BlockedAddressError(f"{host} resolves to a non-public address")
        return results

    async def close(self) -> None:
        await self._resolver.close()


def literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address `host` names when it is an IP literal in any form the OS resolver accepts
    (inet_aton takes `2130706433`, `127.1`, `0177.0.0.1` and `0x7f.1`), else None."""
    bare = host.strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(bare))
    except (OSError, ValueError):
        return None


class ImageFetcher:
    """One HTTP session for image URLs, and the address policy it enforces."""

    def __init__(self, allowlist: Iterable[str]) -> None:
        self.policy = FetchPolicy(allowlist)
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(self.policy),
                                         limit=POOL_CONNECTIONS,
                                         limit_per_host=PER_HOST_CONNECTIONS)
        self.session = aiohttp.ClientSession(
            connector=connector, trust_env=False,
            headers={"User-Agent": "bedrock-gateway-image-fetch"})

    async def close(self) -> None:
        await self.session.close()


class ImageBatch:
    """The remote images of one request, fetched within its limits; what they hold is charged to
    the request's `holdings` (given back when the request ends)."""

    def __init__(self, fetcher: ImageFetcher, budget: ByteBudget, holdings: Holdings, *,
                 max_bytes: int, max_total_bytes: int, concurrency: int,
                 timeout_s: float) -> None:
        self._fetcher = fetcher
        self._budget = budget
        self._holdings = holdings
        self._max_bytes = max_bytes
        self._max_total = max_total_bytes
        self._slots = asyncio.Semaphore(concurrency)
        self._timeout_s = timeout_s
        self._total = 0

    async def fetch_all(self, urls: dict[str, str]) -> dict[str, tuple[bytearray, str]]:
        """{url: (bytes, format)}; `urls` maps each URL to the param a fetch error names. The
        first failure cancels every other fetch of the request."""
        if len(urls) > MAX_REMOTE_IMAGES:
            param = list(urls.values())[MAX_REMOTE_IMAGES]
            raise InvalidRequestError(
                f"A request may name at most {MAX_REMOTE_IMAGES} distinct image URLs (Amazon "
                f"Bedrock's limit); this one names {len(urls)}.", param=param,
                code="too_many_images")
        try:
            async with asyncio.TaskGroup() as group:
                tasks = {url: group.create_task(self._fetch(url, param))
                         for url, param in urls.items()}
        except* GatewayError as failures:
            raise failures.exceptions[0] from None
        return {url: task.result() for url, task in tasks.items()}

    async def _fetch(self, url: str, param: str) -> tuple[bytearray, str]:
        async with self._slots:
            self._holdings.take(self._budget, self._max_bytes, "fetched images")
            data: bytearray | None = None
            try:
                data, image_format = await fetch_image(
                    self._fetcher, url, max_bytes=self._max_bytes, timeout_s=self._timeout_s,
                    param=param, on_chunk=self._count)
            finally:
                # Keep what the image really holds until the request ends.
                self._holdings.give_back(self._budget,
                                         self._max_bytes - (len(data) if data else 0))
            return data, image_format

    def _count(self, size: int, param: str) -> None:
        self._total += size
        if self._total > self._max_total:
            raise InvalidRequestError(
                f"The request's remote images exceed {self._max_total} bytes in total.",
                param=param, code="images_too_large")


async def fetch_image(fetcher: ImageFetcher, url: str, *, max_bytes: int,
                      timeout_s: float, param: str,
                      on_chunk=None) -> tuple[bytearray, str]:
    """(bytes, format) for an image URL, or a 400 naming `param` that says why not."""
    try:
        async with asyncio.timeout(timeout_s):
            async with await _get_following_redirects(fetcher, url) as response:
                if response.status != 200:
                    raise InvalidRequestError(
                        f"Fetching the image failed with HTTP {response.status}.", param=param,
                        code="image_fetch_failed")
                content_type = response.content_type.lower()
                image_format = IMAGE_FORMATS.get(content_type)
                if image_format is None:
                    raise InvalidRequestError(
                        f"The image URL returned '{content_type}', not png, jpeg, gif or webp.",
                        param=param, code="invalid_image_format")
                if response.content_length and response.content_length > max_bytes:
                    raise _too_large(max_bytes, param)
                # One buffer, returned as is: no copy per chunk joined, none into bytes.
                data = bytearray()
                async for chunk in response.content.iter_chunked(65536):
                    if len(data) + len(chunk) > max_bytes:
                        raise _too_large(max_bytes, param)
                    if on_chunk is not None:
                        on_chunk(len(chunk), param)
                    data += chunk
    except BlockedAddressError:
        raise InvalidRequestError(
            "The image URL points to a private, loopback or link-local address, which this "
            "gateway does not fetch.", param=param, code="image_url_forbidden") from None
    except TimeoutError:
        raise InvalidRequestError(f"Fetching the image took longer than {timeout_s:g} s.",
                                  param=param, code="image_fetch_timeout") from None
    except (aiohttp.ClientError, ValueError) as exc:
        raise InvalidRequestError(f"The image URL could not be fetched ({type(exc).__name__}).",
                                  param=param, code="image_fetch_failed") from None
    if not data:
        raise InvalidRequestError("The image URL returned no data.", param=param,
                                  code="image_fetch_failed")
    return data, image_format


async def _get_following_redirects(fetcher: ImageFetcher, url: str) -> aiohttp.ClientResponse:
    """GET with redirects followed here, not by aiohttp: aiohttp does not resolve IP literals,
    so each hop's host is checked before connecting (the resolver checks host names)."""
    policy = fetcher.policy
    for _ in range(_MAX_REDIRECTS + 1):
        target = URL(url)
        if target.scheme not in ("http", "https") or not target.host:
            raise ValueError("only http and https URLs can be fetched")
        host = target.host
        literal = literal_address(host)
        if literal is not None:
            if not policy.host_allowed(host) and not policy.address_allowed(str(literal)):
                raise BlockedAddressError(f"{host} is not a public address")
            if literal.version == 4 and str(literal) != host:  # connect where the check passed
                target = target.with_host(str(literal))
        response = await fetcher.session.get(target, allow_redirects=False)
        if response.status not in (301, 302, 303, 307, 308) or "Location" not in response.headers:
            return response
        url = str(target.join(URL(response.headers["Location"])))
        response.release()
    raise ValueError("too many redirects")


def _too_large(max_bytes: int, param: str) -> InvalidRequestError:
    return InvalidRequestError(f"The image is larger than {max_bytes} bytes.", param=param,
                               code="image_too_large")
