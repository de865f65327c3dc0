"""Turn one record batch of any LAION schema into the columns of ``images``.

Everything here is column-at-a-time pyarrow work: float widths become integers, NaN
becomes null, rows without a URL or with a removed URL are dropped and counted, and
each URL's domain is computed. Python-level loops run only over the rare rows that
need them (non-ASCII captions, removal checks when removals exist).
"""

from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from ingest.columns import KINDS, ColumnPlan
from ingest.domains import domains_of
from laionlens.hashing import normalized_url, url_sha256
from laionlens.text import fts_text

SKIP_NO_URL = "no URL"
SKIP_REMOVED = "removed"


class Removed(NamedTuple):
    """The entries of earlier removals: SHA-256 hex of URLs, and LAION ``hash`` values."""

    url_sha256s: set[str]
    hashes: pa.Array

    @classmethod
    def empty(cls) -> "Removed":
        return cls(set(), pa.array([], pa.int64()))


@dataclass
class Rows:
    """The kept rows of one batch, column by column, ready to be written."""

    columns: dict[str, pa.Array]
    source_rows: pa.Array
    domains: pa.Array
    read: int
    skipped: Counter = field(default_factory=Counter)

    @property
    def count(self) -> int:
        return len(self.source_rows)


def normalise(batch: pa.RecordBatch, plan: ColumnPlan, first_row: int, removed: Removed) -> Rows:
    """Return the kept rows of ``batch`` (rows ``first_row`` onwards of its file)."""
    columns = {target: convert(batch.column(name), KINDS[target]) for target, name in plan.sources.items()}
    source_rows = pa.array(range(first_row, first_row + batch.num_rows), pa.int64())
    keep, skipped = keep_mask(columns["url"], columns.get("hash"), removed)
    if skipped:
        columns = {target: array.filter(keep) for target, array in columns.items()}
        source_rows = source_rows.filter(keep)
    rows = Rows(columns, source_rows, domains_of(columns["url"]), batch.num_rows, skipped)
    return rows


def keep_mask(urls: pa.Array, hashes: pa.Array | None, removed: Removed) -> tuple[pa.Array, Counter]:
    """Return which rows to keep and, by reason, how many were skipped."""
    has_url = pc.fill_null(pc.not_equal(pc.utf8_trim_whitespace(urls), ""), False)
    skipped = Counter()
    missing = len(urls) - pc.sum(has_url).as_py() if len(urls) else 0
    if missing:
        skipped[SKIP_NO_URL] = missing
    is_removed = removed_mask(urls, hashes, removed)
    if is_removed is None:
        return has_url, skipped
    is_removed = pc.and_(has_url, is_removed)
    removed_count = pc.sum(is_removed).as_py()
    if removed_count:
        skipped[SKIP_REMOVED] = removed_count
    return pc.and_not(has_url, is_removed), skipped


def is_removed_url(url: str, url_sha256s: set[str]) -> bool:
    """Tell whether a removal recorded ``url`` in any case of its scheme and host.

    Removals record the hash of the normalised URL. Before schema version 3 they
    recorded the hash of the URL as listed, so that hash is looked up too.
    """
    if url_sha256(url) in url_sha256s:
        return True
    normal = normalized_url(url)
    return normal != url and url_sha256(normal) in url_sha256s


def removed_mask(urls: pa.Array, hashes: pa.Array | None, removed: Removed) -> pa.Array | None:
    """Return which rows an earlier removal listed, or None when no removal applies."""
    masks = []
    if removed.url_sha256s:
        masks.append(pa.array([url is not None and is_removed_url(url, removed.url_sha256s)
                               for url in urls.to_pylist()], pa.bool_()))
    if hashes is not None and len(removed.hashes):
        # A row without a hash is null in is_in's result, and filter() would drop it.
        masks.append(pc.fill_null(pc.is_in(hashes, value_set=removed.hashes), False))
    if not masks:
        return None
    return masks[0] if len(masks) == 1 else pc.or_(*masks)


def convert(array: pa.Array, kind: str) -> pa.Array:
    """Convert a parquet column to text, int64 or float64 as its images column expects."""
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), {"text": pa.string(), "int": pa.int64(), "real": pa.float64()}[kind])
    if pa.types.is_floating(array.type):
        # NaN and infinities mean "unknown" in LAION's float columns.
        array = pc.if_else(pc.is_finite(array), array, pa.scalar(None, array.type))
        if kind == "int":
            array = pc.round(array)
    target = {"text": pa.string(), "int": pa.int64(), "real": pa.float64()}[kind]
    # safe=False keeps the bits of a uint64 hash instead of refusing values above 2**63.
    return pc.cast(array, target, safe=False)


def fts_texts(captions: pa.Array) -> tuple[list[int], list[str]]:
    """Return the positions of the non-null captions and their text as indexed."""
    present = pc.is_valid(captions)
    texts = captions.filter(present)
    values = texts.to_pylist()
    ascii_mask = pc.string_is_ascii(texts)
    if not pc.all(ascii_mask).as_py():
        for index in pc.indices_nonzero(pc.invert(ascii_mask)).to_pylist():
            values[index] = fts_text(values[index])
    return pc.indices_nonzero(present).to_pylist(), values
