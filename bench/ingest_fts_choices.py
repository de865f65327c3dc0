"""CPU time of the ways to fill the contentless caption index, on the same captions.

1. FTS5 ``hashsize`` (memory for pending postings before a segment is written): the
   default 1 MiB against the 64 MiB that ``ingest/database.py`` sets.
2. When to index: with each 50,000-row batch (what the ingest does), in one
   transaction, or after all rows by ``INSERT ... SELECT fts_text(caption)``.

Each variant runs three times on a fresh database; the smallest CPU time counts.

Example: python -m bench.ingest_fts_choices --parquet bench/out/bench-200k.parquet
"""

import sqlite3
import time
from pathlib import Path

import click
import pyarrow.parquet as pq

from bench.common import remove
from laionlens.text import fts_text

SCHEMA = """
CREATE VIRTUAL TABLE fts USING fts5(caption, content='', tokenize='unicode61 remove_diacritics 2');
CREATE TABLE images (id INTEGER PRIMARY KEY, caption TEXT);
"""


def fresh(db: Path, captions: list, hash_bytes: int | None) -> sqlite3.Connection:
    remove(db)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = TRUNCATE")
    conn.execute("PRAGMA synchronous = OFF")
    conn.executescript(SCHEMA)
    if hash_bytes:
        conn.execute("INSERT INTO fts (fts, rank) VALUES ('hashsize', ?)", (hash_bytes,))
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO images VALUES (?, ?)", enumerate(captions, 1))
    conn.execute("COMMIT")
    conn.create_function("fts_text", 1, fts_text, deterministic=True)
    return conn


def in_batches(conn: sqlite3.Connection, captions: list, batch_rows: int) -> None:
    rows = [(id_, fts_text(caption)) for id_, caption in enumerate(captions, 1) if caption is not None]
    for start in range(0, len(rows), batch_rows):
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO fts (rowid, caption) VALUES (?, ?)", rows[start:start + batch_rows])
        conn.execute("COMMIT")


def afterwards(conn: sqlite3.Connection, captions: list) -> None:
    conn.execute("BEGIN")
    conn.execute("INSERT INTO fts (rowid, caption) SELECT id, fts_text(caption) FROM images "
                 "WHERE caption IS NOT NULL")
    conn.execute("COMMIT")


def cpu_time(db: Path, captions: list, hash_bytes: int | None, fill) -> float:
    best = float("inf")
    for _ in range(3):
        conn = fresh(db, captions, hash_bytes)
        started = time.process_time()
        fill(conn, captions)
        best = min(best, time.process_time() - started)
        conn.close()
    remove(db)
    return best


@click.command()
@click.option("--parquet", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="Parquet file whose TEXT column gives the captions.")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default="/tmp/fts-choices.db",
              show_default=True, help="Scratch database (replaced on each run).")
def main(parquet, db):
    """Print the CPU seconds of each way to build the caption index."""
    captions = pq.read_table(parquet, columns=["TEXT"])["TEXT"].to_pylist()
    variants = [
        ("hashsize 1 MiB (default), 50,000-row batches", None, lambda c, t: in_batches(c, t, 50_000)),
        ("hashsize 64 MiB, 50,000-row batches", 64 * 2**20, lambda c, t: in_batches(c, t, 50_000)),
        ("hashsize 64 MiB, one transaction", 64 * 2**20, lambda c, t: in_batches(c, t, len(t))),
        ("hashsize 64 MiB, afterwards by INSERT ... SELECT", 64 * 2**20, afterwards),
    ]
    click.echo(f"{len(captions):,} captions from {parquet}")
    for name, hash_bytes, fill in variants:
        click.echo(f"{name:50s} {cpu_time(db, captions, hash_bytes, fill):6.2f} s CPU")


if __name__ == "__main__":
    main()
