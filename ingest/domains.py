"""The domain of every URL in a batch, computed by pyarrow and equal to ``domain_of``.

Calling :func:`laionlens.domains.domain_of` (``urllib.parse.urlsplit``) once per row
costs more than the rest of the ingest put together at a scale of millions of rows. A
regular expression covers the plain ``scheme://host[:port]/...`` URLs that make up
nearly all of LAION; the few URLs it does not cover (userinfo, IPv6 literals,
whitespace, non-ASCII hosts) go through ``domain_of`` itself, so the results match.
"""

import pyarrow as pa
import pyarrow.compute as pc

from laionlens.domains import domain_of

# Scheme as urlsplit accepts it, then "//" and a host made only of characters that
# urlsplit passes through unchanged apart from lower-casing.
_PLAIN_URL = r"^[A-Za-z][A-Za-z0-9+.\-]*://(?P<host>[A-Za-z0-9._~!$&'()*+,;=%\-]*)(?::[0-9A-Za-z]*)?(?:[/?#]|$)"


def domains_of(urls: pa.Array) -> pa.Array:
    """Return a string array with the domain of each URL (null where it has none)."""
    matched = pc.extract_regex(urls, _PLAIN_URL)
    hosts = pc.utf8_lower(pc.struct_field(matched, [0]))
    hosts = pc.replace_substring_regex(hosts, r"\.+$", "")
    hosts = pc.replace_substring_regex(hosts, r"^www\.", "", max_replacements=1)
    hosts = pc.if_else(pc.equal(hosts, ""), pa.scalar(None, pa.string()), hosts)
    unmatched = pc.and_(pc.is_null(matched), pc.is_valid(urls))
    if not pc.any(unmatched).as_py():
        return hosts
    return with_slow_path(urls, hosts, unmatched)


def with_slow_path(urls: pa.Array, hosts: pa.Array, unmatched: pa.Array) -> pa.Array:
    """Fill in the rows the regular expression did not cover with ``domain_of``."""
    values = hosts.to_pylist()
    url_values = urls.to_pylist()
    for index in pc.indices_nonzero(unmatched).to_pylist():
        values[index] = domain_of(url_values[index])
    return pa.array(values, pa.string())
