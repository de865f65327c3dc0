"""Write the normalised rows of one batch, with their domains, full-text entries and
progress, in a single transaction, so that a kill at any moment loses a whole batch or
nothing.

Image ids are assigned here, one after another from the largest id in the table, and
domain ids in order of first appearance: a resumed ingest therefore gives every row
the same id as an uninterrupted one.
"""

import sqlite3

import pyarrow as pa
import pyarrow.compute as pc

from ingest.database import transaction
from ingest.normalise import Rows, fts_rows
from laionlens.schema import IMAGE_COLUMNS

INSERT_IMAGE = (
    f"INSERT INTO images (id, {', '.join(IMAGE_COLUMNS)}) "
    f"VALUES ({', '.join('?' * (len(IMAGE_COLUMNS) + 1))})"
)
INSERT_FTS = "INSERT INTO images_fts (rowid, caption) VALUES (?, ?)"


class DomainIds:
    """The ``domains`` table held in memory as domain -> id, extended batch by batch."""

    def __init__(self, conn: sqlite3.Connection):
        self.ids = dict(conn.execute("SELECT domain, id FROM domains"))
        self.next_id = (conn.execute("SELECT max(id) FROM domains").fetchone()[0] or 0) + 1

    def lookup(self, conn: sqlite3.Connection, domains: pa.Array) -> pa.Array:
        """Return the id of each domain, inserting the domains not seen before."""
        encoded = pc.dictionary_encode(domains)
        names = encoded.dictionary.to_pylist()
        new = [name for name in names if name not in self.ids]
        if new:
            rows = list(zip(range(self.next_id, self.next_id + len(new)), new))
            conn.executemany("INSERT INTO domains (id, domain) VALUES (?, ?)", rows)
            self.ids.update((name, id_) for id_, name in rows)
            self.next_id += len(new)
        lookup = pa.array([self.ids[name] for name in names], pa.int64())
        return pc.take(lookup, encoded.indices)


def next_image_id(conn: sqlite3.Connection) -> int:
    return (conn.execute("SELECT max(id) FROM images").fetchone()[0] or 0) + 1


def write_rows(
    conn: sqlite3.Connection, domain_ids: DomainIds, rows: Rows, file_id: int, rows_done: int, done: bool
) -> None:
    """Insert ``rows`` and record that the first ``rows_done`` rows of the file are in."""
    with transaction(conn):
        first_id = next_image_id(conn)
        if rows.count:
            domains = domain_ids.lookup(conn, rows.domains)
            conn.executemany(INSERT_IMAGE, image_tuples(first_id, rows, domains, file_id))
            conn.executemany(INSERT_FTS, fts_rows(first_id, rows.columns["caption"]))
            conn.execute("INSERT OR REPLACE INTO lens_state (key, value) VALUES ('ingest_pending', '1')")
        conn.execute(
            "UPDATE ingest_files SET rows_done = ?, status = ?, finished_at = "
            "CASE WHEN ? THEN datetime('now') END WHERE id = ?",
            (rows_done, "done" if done else "started", done, file_id),
        )


def image_tuples(first_id: int, rows: Rows, domains: pa.Array, file_id: int):
    """Yield one parameter tuple per row, in the order of IMAGE_COLUMNS."""
    count = rows.count
    values = []
    for name in IMAGE_COLUMNS:
        if name == "domain_id":
            values.append(domains.to_pylist())
        elif name == "source_id":
            values.append([file_id] * count)
        elif name == "source_row":
            values.append(rows.source_rows.to_pylist())
        elif name in rows.columns:
            values.append(rows.columns[name].to_pylist())
        else:
            values.append([None] * count)
    return zip(range(first_id, first_id + count), *values)


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
