"""Fetch one image over HTTP(S) with a size cap, refusing private network addresses.

Used by the ``laionlens embed --download`` ingest and by the server's search by
image URL. Every host name is resolved first and every address it resolves to
is checked; the connection then goes to the checked address (the TLS name stays
the host name), so a second DNS answer cannot swap in a private address.
Redirects are followed by hand, each hop checked the same way.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

import httpx

MAX_REDIRECTS = 3
NOAI_TOKENS = frozenset({"noai", "noimageai"})


class FetchError(Exception):
    """An image could not be fetched; ``reason`` is a short code stored per row."""

    reason = "fetch_failed"


class UrlRefused(FetchError):
    reason = "url_refused"


class FetchTooLarge(FetchError):
    reason = "too_large"


class OptedOut(FetchError):
    """The server marked the image ``X-Robots-Tag: noai`` or ``noimageai``."""

    reason = "noai"


@dataclass
class Fetched:
    url: str
    data: bytes
    headers: httpx.Headers


def new_client(timeout_s: float) -> httpx.AsyncClient:
    # trust_env=False: a proxy from the environment would bypass the address checks.
    return httpx.AsyncClient(timeout=httpx.Timeout(timeout_s), follow_redirects=False,
                             trust_env=False, headers={"User-Agent": "laionlens/0.1"})


def is_opted_out(headers: httpx.Headers) -> bool:
    """True when an X-Robots-Tag header says noai or noimageai (for any or no bot name)."""
    for value in headers.get_list("x-robots-tag"):
        for token in value.split(","):
            if token.split(":")[-1].strip().lower() in NOAI_TOKENS:
                return True
    return False


def check_address(address: str, url: str, allow_private: bool) -> None:
    ip = ipaddress.ip_address(address.split("%")[0])
    if allow_private or (ip.is_global and not ip.is_multicast):
        return
    raise UrlRefused(
        f"URL {url!r} resolves to {ip}, a private, loopback, link-local or reserved address; "
        "the server does not fetch those (allow_private_urls in the configuration allows them)"
    )


async def resolve(url: httpx.URL, allow_private: bool) -> str:
    """Return an address of ``url``'s host after checking every address it has."""
    if url.scheme not in ("http", "https") or not url.host:
        raise UrlRefused(f"URL {str(url)!r} is not an http or https URL")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(url.host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise FetchError(f"host {url.host!r} could not be resolved: {error}") from error
    addresses = sorted({info[4][0] for info in infos})
    for address in addresses:
        check_address(address, str(url), allow_private)
    return addresses[0]


async def _read_capped(response: httpx.Response, url: str, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchTooLarge(f"image at {url!r} is {int(declared):,} bytes, over the limit of {max_bytes:,}")
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FetchTooLarge(f"image at {url!r} is over the limit of {max_bytes:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _request_once(client, url: httpx.URL, allow_private: bool):
    address = await resolve(url, allow_private)
    host_header = url.netloc.decode("ascii")
    extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
    request = client.build_request("GET", url.copy_with(host=address), headers={"Host": host_header},
                                   extensions=extensions)
    return await client.send(request, stream=True)


async def fetch_image_bytes(client: httpx.AsyncClient, url: str, *, max_bytes: int,
                            allow_private: bool = False, respect_noai: bool = False) -> Fetched:
    """GET ``url`` and return its body, at most ``max_bytes``; raises a FetchError subclass."""
    current = httpx.URL(url)
    for _ in range(MAX_REDIRECTS + 1):
        try:
            response = await _request_once(client, current, allow_private)
        except httpx.HTTPError as error:
            raise FetchError(f"fetching {str(current)!r} failed: {type(error).__name__} {error}") from error
        try:
            if response.is_redirect:
                current = current.join(response.headers.get("location", ""))
                continue
            if response.status_code != 200:
                raise FetchError(f"{str(current)!r} returned HTTP {response.status_code}")
            if respect_noai and is_opted_out(response.headers):
                raise OptedOut(f"{str(current)!r} is marked X-Robots-Tag noai")
            data = await _read_capped(response, str(current), max_bytes)
            return Fetched(str(current), data, response.headers)
        except httpx.HTTPError as error:
            raise FetchError(f"reading {str(current)!r} failed: {type(error).__name__} {error}") from error
        finally:
            await response.aclose()
    raise FetchError(f"{url!r} redirected more than {MAX_REDIRECTS} times")
