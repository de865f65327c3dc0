"""Write the rows of one batch, with their domains, full-text entries and progress, in a
single transaction, so that a kill at any moment loses a whole batch or nothing.

:func:`prepare` turns a batch into Python values and runs in the prefetch thread;
:func:`write` only executes SQL. Image ids are assigned one after another from the
largest id ever given (removed rows included), and domain ids in order of first appearance, so a resumed
ingest gives every row the same ids as an uninterrupted one.
"""

import functools
import sqlite3
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from ingest.database import transaction
from ingest.normalise import Rows, fts_texts
from laionlens.hashing import url_hashes
from laionlens.schema import IMAGE_COLUMNS

INSERT_FTS = "INSERT INTO images_fts (rowid, caption) VALUES (?, ?)"
INSERT_DOMAIN = "INSERT INTO domains (id, domain) VALUES (?, ?)"


class DomainIds:
    """The ``domains`` table held in memory as domain -> id, extended batch by batch."""

    def __init__(self, conn: sqlite3.Connection):
        self.ids = dict(conn.execute("SELECT domain, id FROM domains"))
        self.next_id = (conn.execute("SELECT max(id) FROM domains").fetchone()[0] or 0) + 1

    def assign(self, domains: pa.Array) -> tuple[pa.Array, list[tuple[int, str]]]:
        """Return the id of each domain, and the (id, domain) pairs not seen before."""
        encoded = pc.dictionary_encode(domains)
        names = encoded.dictionary.to_pylist()
        new = [name for name in names if name not in self.ids]
        rows = list(zip(range(self.next_id, self.next_id + len(new)), new))
        self.ids.update((name, id_) for id_, name in rows)
        self.next_id += len(new)
        lookup = pa.array([self.ids[name] for name in names], pa.int64())
        return pc.take(lookup, encoded.indices), rows


@functools.lru_cache
def insert_image_sql(columns: tuple[str, ...]) -> str:
    """Return the INSERT for ``columns``; the others stay NULL without being bound."""
    return f"INSERT INTO images (id, {', '.join(columns)}) VALUES ({', '.join('?' * (len(columns) + 1))})"


@dataclass
class Prepared:
    """One batch as the Python values that the INSERT statements take."""

    first_row: int
    read: int
    written: int
    skipped: dict
    new_domains: list[tuple[int, str]]
    column_names: tuple[str, ...]
    columns: list[list]
    fts_positions: list[int]
    fts_texts: list[str]


def prepare(rows: Rows, first_row: int, domain_ids: DomainIds, file_id: int) -> Prepared:
    """Convert ``rows`` to one list per images column the file has, assigning domain ids."""
    domains, new_domains = domain_ids.assign(rows.domains)
    values = {name: array.to_pylist() for name, array in rows.columns.items()}
    values["url_hash"] = url_hashes(values["url"])
    values["domain_id"] = domains.to_pylist()
    values["source_id"] = [file_id] * rows.count
    values["source_row"] = rows.source_rows.to_pylist()
    names = tuple(name for name in IMAGE_COLUMNS if name in values)
    positions, texts = fts_texts(rows.columns["caption"])
    return Prepared(first_row, rows.read, rows.count, rows.skipped, new_domains, names,
                    [values[name] for name in names], positions, texts)


def write(conn: sqlite3.Connection, batch: Prepared, file_id: int, done: bool) -> None:
    """Insert ``batch`` and record that the file's rows up to its end are in."""
    with transaction(conn):
        first_id = next_image_id(conn)
        if batch.written:
            conn.executemany(INSERT_DOMAIN, batch.new_domains)
            ids = range(first_id, first_id + batch.written)
            conn.executemany(insert_image_sql(batch.column_names), zip(ids, *batch.columns))
            fts_ids = (first_id + position for position in batch.fts_positions)
            conn.executemany(INSERT_FTS, zip(fts_ids, batch.fts_texts))
            conn.execute("INSERT OR REPLACE INTO lens_state (key, value) VALUES ('ingest_pending', '1')")
        conn.execute(
            "UPDATE ingest_files SET rows_done = ?, status = ?, finished_at = "
            "CASE WHEN ? THEN datetime('now') END WHERE id = ?",
            (batch.first_row + batch.read, "done" if done else "started", done, file_id),
        )


def next_image_id(conn: sqlite3.Connection) -> int:
    """Return one more than the largest id ever given, removed rows included.

    A removed id is never given to a new row, so its row page keeps returning 410
    Gone and no stored reference to it starts pointing at another image.
    """
    return 1 + conn.execute(
        "SELECT max(coalesce((SELECT max(id) FROM images), 0), "
        "coalesce((SELECT max(image_id) FROM removed_rows), 0))"
    ).fetchone()[0]


def register_file(conn: sqlite3.Connection, source) -> tuple[int, int, str]:
    """Return ``(id, rows_done, status)`` of ``source`` in ingest_files, adding it if new.

    Files are known by their fingerprint, not their path, so the same shard under a
    new name or URL is recognised as already ingested.
    """
    row = conn.execute(
        "SELECT id, rows_done, status FROM ingest_files WHERE fingerprint = ?", (source.fingerprint,)
    ).fetchone()
    if row:
        return row
    with transaction(conn):
        cursor = conn.execute(
            "INSERT INTO ingest_files (path, name, fingerprint, size_bytes, rows_total, started_at) "
            "VALUES (?, ?, ?, ?, ?, datetime('now'))",
            (source.origin, source.name, source.fingerprint, source.size, source.num_rows),
        )
    return cursor.lastrowid, 0, "started"
