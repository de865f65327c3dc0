"""The vectorised domain column agrees with laionlens.domains.domain_of row for row."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest.domains import domains_of
from laionlens.domains import domain_of

URLS = [
    ("http://WWW.Example.COM/x.jpg", "example.com"),  # case folded, www. dropped
    ("https://www.a.b./p", "a.b"),  # trailing dot of a fully qualified name
    ("HTTP://X.COM.../a", "x.com"),
    ("http://www.www.x.com/", "www.x.com"),  # only one www. goes
    ("http://www/", "www"),
    ("http://x.com:8080?q=1", "x.com"),  # port, then query with no path
    ("http://host:abc/", "host"),  # malformed port: urlsplit ignores it for the host
    ("http://x.com#frag", "x.com"),
    ("h+t://x.com/y", "x.com"),  # any valid scheme
    ("http://a_b.com/", "a_b.com"),
    ("http://%41.com/", "%41.com"),  # left encoded, as urlsplit does
    ("http://user:pw@host.com/", "host.com"),  # userinfo: slow path
    ("http://[::1]:80/", "::1"),  # IPv6 literal: slow path
    ("  http://x.com/  ", "x.com"),  # surrounding spaces: slow path
    ("http://ex\tample.com/", "example.com"),  # urlsplit drops tabs
    ("http://exämple.com/", "exämple.com"),  # non-ASCII host: slow path
    ("http:///path", None),  # empty host
    ("http:/x.com", None),
    ("x.com/a", None),  # no scheme
    ("1http://x.com/", None),  # scheme must start with a letter
    ("", None),
    (None, None),
]


@pytest.mark.parametrize("url, domain", URLS)
def test_domains_of_matches_domain_of(url, domain):
    assert domain_of(url) == domain
    assert domains_of(pa.array([url], pa.string())).to_pylist() == [domain]


def test_domains_of_mixed_batch_keeps_row_order():
    urls = [url for url, _ in URLS]
    assert domains_of(pa.array(urls, pa.string())).to_pylist() == [domain for _, domain in URLS]


def test_domains_of_sample_matches_domain_of(sample_path):
    urls = pq.read_table(sample_path, columns=["URL"])["URL"].combine_chunks()
    assert domains_of(urls).to_pylist() == [domain_of(url) for url in urls.to_pylist()]
