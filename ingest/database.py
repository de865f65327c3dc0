"""The SQLite connection of an ingest, with bulk-load settings chosen for crash safety.

``synchronous=OFF`` skips fsync: a killed process loses nothing, because its writes are
already with the operating system, though a power cut during an ingest can corrupt
the file. The rollback journal (``TRUNCATE``) is kept so that a transaction cut short
by ``kill -9`` is rolled back on the next open. Rows are appended, so the journal only
contains the few existing pages that a batch changes.
"""

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from ingest.errors import DatabaseLockedError, DatabaseOpenError
from laionlens.schema import create_tables, upgrade

# Larger pages suit a table of long rows read mostly by scans and rowid lookups.
# page_size takes effect only before the first table is created.
PAGE_SIZE = 8192
CACHE_KIB = 128 * 1024
# FTS5 keeps new postings in memory up to this many bytes (default 1 MiB) before it
# writes a segment. Fewer, larger segments halved the CPU time of indexing captions
# in bench/ingest_speed.py runs.
FTS_HASH_BYTES = 64 * 2**20
# Seconds to wait for another connection's lock before giving up.
BUSY_TIMEOUT_S = 5.0


class Connection(sqlite3.Connection):
    """A connection that remembers its journal mode."""

    journal_mode = "delete"


def open_database(db_path: str | Path) -> Connection:
    """Open (creating if needed) the database at ``db_path``, ready for a bulk load."""
    try:
        conn = sqlite3.connect(db_path, isolation_level=None, timeout=BUSY_TIMEOUT_S, factory=Connection)
        return configure(conn)
    except sqlite3.DatabaseError as error:
        if is_locked(error):
            raise locked_error(db_path, error) from error
        raise DatabaseOpenError(
            f"{db_path}: cannot open it as an SQLite database ({error}). "
            "Check that its folder exists and is writable, or pass a new file name."
        ) from error


def is_locked(error: sqlite3.Error) -> bool:
    return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)


def locked_error(db_path: str | Path, error: sqlite3.Error) -> DatabaseLockedError:
    return DatabaseLockedError(
        f"{db_path}: {error}, because another process is using it. Wait for that process "
        "to finish and run the ingest again: it resumes where it stopped."
    )


def configure(conn: Connection) -> Connection:
    """Apply the bulk-load settings to ``conn`` and create the tables it lacks."""
    conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
    # A database in WAL mode, which persists in the file, stays in it: WAL is just as
    # safe against a kill, and leaving it needs every other connection closed.
    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        conn.execute("PRAGMA journal_mode = TRUNCATE")
    conn.journal_mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    # Lets CREATE INDEX sort on a second core.
    conn.execute("PRAGMA threads = 2")
    # executescript commits as it goes; every statement in it is idempotent.
    create_tables(conn)
    upgrade(conn)
    conn.execute("INSERT INTO images_fts (images_fts, rank) VALUES ('hashsize', ?)", (FTS_HASH_BYTES,))
    return conn


@contextlib.contextmanager
def bulk_connection(db_path: str | Path) -> Iterator[sqlite3.Connection]:
    """Open the database for a bulk load; on leaving, end in DELETE mode unless it is WAL.

    DELETE removes the journal file that the bulk load's TRUNCATE mode leaves behind.
    """
    conn = open_database(db_path)
    try:
        yield conn
    finally:
        if conn.journal_mode != "wal":
            conn.execute("PRAGMA journal_mode = DELETE")
        conn.close()


class transaction:
    """``with transaction(conn):`` runs its block in BEGIN ... COMMIT, or ROLLBACK on error."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN")
        return self.conn

    def __exit__(self, exc_type, exc, traceback) -> None:
        self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
