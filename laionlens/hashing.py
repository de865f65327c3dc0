"""Stable identifiers derived from row values."""

import hashlib


def url_sha256(url: str) -> str:
    """Return the hex SHA-256 of ``url`` as stored in ``images.url``.

    Removals are recorded by this hash rather than by the URL itself, so the list
    of removed rows does not republish the links that were taken down.
    """
    return hashlib.sha256(url.encode("utf-8")).hexdigest()
