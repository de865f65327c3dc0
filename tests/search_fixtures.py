"""Tiny LAION-like databases for the search, count, facet and render tests."""

import asyncio
import sqlite3
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ingest.pipeline import ingest_paths

# Every column of an improved_aesthetics shard. Rows give URL and TEXT at least, and the
# other columns take the values in DEFAULTS unless a row sets them.
COLUMNS = {
    "URL": pa.string(),
    "TEXT": pa.string(),
    "WIDTH": pa.float64(),
    "HEIGHT": pa.float64(),
    "similarity": pa.float64(),
    "punsafe": pa.float64(),
    "pwatermark": pa.float64(),
    "AESTHETIC_SCORE": pa.float64(),
    "hash": pa.int64(),
}
DEFAULTS = {
    "WIDTH": 512.0,
    "HEIGHT": 384.0,
    "similarity": 0.3123,
    "punsafe": 0.01,
    "pwatermark": 0.1,
    "AESTHETIC_SCORE": 6.25,
}


def write_shard(path: Path, rows: list[dict]) -> Path:
    """Write ``rows`` (dicts with at least URL and TEXT) as a parquet shard."""
    full = [dict(DEFAULTS, hash=i, **row) for i, row in enumerate(rows)]
    table = pa.table({name: pa.array([row.get(name) for row in full], type=kind)
                      for name, kind in COLUMNS.items()})
    pq.write_table(table, path)
    return path


def build_database(folder: Path, rows: list[dict], name: str = "lens") -> Path:
    """Ingest ``rows`` into ``folder/<name>.db`` through the real ingest; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    db_path = folder / f"{name}.db"
    ingest_paths([write_shard(folder / f"{name}.parquet", rows)], db_path)
    return db_path


def domain_id(db_path: Path, domain: str) -> int:
    """Return the id the ingest gave ``domain``."""
    with sqlite3.connect(db_path) as conn:
        return conn.execute("select id from domains where domain = ?", [domain]).fetchone()[0]


def get(datasette, path: str, **params):
    """GET ``path`` through datasette.client, synchronously, with query parameters."""
    return asyncio.run(datasette.client.get(path, params=params or None))

# The search corpus: a caption for each punctuation, accent and script case of the
# tests, then 24 filler rows on three hosts for the pagination, count and facet tests.
CAPTIONS = [
    "A walk in the park. Sunset over the lake",
    "Classic t-shirt in black/white stripes",
    "Learning C++ the hard way",
    "Why? A question of colour",
    "AND (the) OR NOT: a logic poster",
    "Portrait of Antonín Dvořák by velinov",
    "東京の夜景 night view",
    "Москва зимой",
    "shirt for a t ball",
    None,
    "sunsets and sunrise",
    "cat in a hat",
    "a hat on a big cat",
]
FILLER_HOSTS = ["https://example.com", "https://images.example.com", "https://www.example.org"]
FILLER = [f"filler photo number {i}" for i in range(24)]


def corpus_rows() -> list[dict]:
    """Return the rows of the search corpus, all with the default (safe) punsafe."""
    rows = [{"URL": f"https://example.net/{i}.jpg", "TEXT": text} for i, text in enumerate(CAPTIONS)]
    rows += [{"URL": f"{FILLER_HOSTS[i % 3]}/filler/{i}.jpg", "TEXT": text}
             for i, text in enumerate(FILLER)]
    return rows
