"""The domain of an image URL: its lower-cased host without a leading "www."."""

from urllib.parse import urlsplit


def domain_of(url: str | None) -> str | None:
    """Return the domain of ``url``, or None when the URL has no host."""
    if not url:
        return None
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.rstrip(".")
    host = host.removeprefix("www.")
    return host or None
