"""Fetching `image_url` http(s) images for the model, with a guard against SSRF.

Every address a host name resolves to is checked before connecting (the check lives in the
connector's resolver, so redirects and DNS rebinding go through it too): private, loopback,
link-local (cloud metadata), multicast and reserved addresses are refused unless the operator's
allow-list (`IMAGE_FETCH_ALLOWLIST`: CIDRs or host names) permits them.
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

from bedrock_gateway.errors import InvalidRequestError

IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg",
                 "image/gif": "gif", "image/webp": "webp"}
_MAX_REDIRECTS = 3


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


class ImageFetcher:
    """One HTTP session for image URLs, and the address policy it enforces."""

    def __init__(self, allowlist: Iterable[str]) -> None:
        self.policy = FetchPolicy(allowlist)
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(self.policy), limit=64)
        self.session = aiohttp.ClientSession(
            connector=connector, trust_env=False,
            headers={"User-Agent": "bedrock-gateway-image-fetch"})

    async def close(self) -> None:
        await self.session.close()


async def fetch_image(fetcher: ImageFetcher, url: str, *, max_bytes: int,
                      timeout_s: float, param: str) -> tuple[bytes, str]:
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
                data = bytearray()
                async for chunk in response.content.iter_chunked(65536):
                    data += chunk
                    if len(data) > max_bytes:
                        raise _too_large(max_bytes, param)
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
    return bytes(data), image_format


async def _get_following_redirects(fetcher: ImageFetcher, url: str) -> aiohttp.ClientResponse:
    """GET with redirects followed here, not by aiohttp: aiohttp does not resolve IP literals,
    so each hop's host is checked before connecting (the resolver checks host names)."""
    policy = fetcher.policy
    for _ in range(_MAX_REDIRECTS + 1):
        target = URL(url)
        if target.scheme not in ("http", "https") or not target.host:
            raise ValueError("only http and https URLs can be fetched")
        host = target.host
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None and not policy.host_allowed(host) \
                and not policy.address_allowed(str(literal)):
            raise BlockedAddressError(f"{host} is not a public address")
        response = await fetcher.session.get(target, allow_redirects=False)
        if response.status not in (301, 302, 303, 307, 308) or "Location" not in response.headers:
            return response
        url = str(target.join(URL(response.headers["Location"])))
        response.release()
    raise ValueError("too many redirects")


def _too_large(max_bytes: int, param: str) -> InvalidRequestError:
    return InvalidRequestError(f"The image is larger than {max_bytes} bytes.", param=param,
                               code="image_too_large")
