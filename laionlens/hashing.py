"""Stable identifiers derived from row values."""

import hashlib
import re

# Matches a URL whose scheme and host are already lower case and name no port, the usual case.
ALREADY_NORMAL = re.compile(r"[a-z]+://[^/?#A-Z:]*(?:[/?#]|\Z)")
# Ports that a URL of the scheme reaches without naming them (RFC 3986 section 6.2.3).
DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def normalized_url(url: str) -> str:
    """Return ``url`` with its scheme and host in lower case and a default port dropped.

    Scheme and host are case-insensitive (RFC 3986 section 3.1 and 3.2.2), so
    ``HTTP://Example.ORG:80/a`` and ``http://example.org/a`` name the same resource.
    The user info, path, query and fragment keep their case.
    """
    if ALREADY_NORMAL.match(url):
        return url
    scheme, separator, rest = url.partition("://")
    if not separator or not scheme.isascii() or not scheme.isalpha():
        return url
    end = len(rest)
    for delimiter in "/?#":
        position = rest.find(delimiter)
        if position != -1:
            end = min(end, position)
    user_info, at, host = rest[:end].rpartition("@")
    scheme, host = scheme.lower(), host.lower()
    default_port = DEFAULT_PORTS.get(scheme)
    if default_port and host.endswith(default_port):
        host = host[: -len(default_port)]
    return f"{scheme}://{user_info}{at}{host}{rest[end:]}"


def removal_sha256(url: str) -> str:
    """Return the hex SHA-256 of :func:`normalized_url` of ``url``, as removals record it."""
    return url_sha256(normalized_url(url))


def url_sha256(url: str) -> str:
    """Return the hex SHA-256 of ``url`` as stored in ``images.url``.

    Removals are recorded by this hash rather than by the URL itself, so the list
    of removed rows does not republish the links that were taken down.
    """
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


def url_hash(url: str) -> int:
    """Return the first 8 bytes of the BLAKE2b digest of ``normalized_url(url)`` as a signed 64-bit integer.

    URLs that differ only in scheme or host case share a url_hash, so removal by URL
    finds every spelling through the index.

    ``images.url_hash`` contains this value, and rows are looked up by URL through its
    index with ``url_hash = ? AND url = ?``. An index of the full URL text was a
    quarter of the database at 12 million rows; this one is about a seventh of that.
    """
    return url_hashes([url])[0]


def url_hashes(urls: list) -> list:
    """Return :func:`url_hash` of each URL in ``urls``; None stays None."""
    blake2b, from_bytes, normalized = hashlib.blake2b, int.from_bytes, normalized_url
    return [
        None if url is None
        else from_bytes(blake2b(normalized(url).encode("utf-8"), digest_size=8).digest(), "big", signed=True)
        for url in urls
    ]
