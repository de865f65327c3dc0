"""The database schema shared by the ingest (which writes it) and the plugins (which read it).

One row of ``images`` is one LAION row. ``images_fts`` is a contentless FTS5 table
keyed by ``images.id``: it stores only the index, not a second copy of the captions,
and is fed with :func:`laionlens.text.fts_text` of each caption. Because it is
contentless, removing a row from it needs the ``'delete'`` command with the same
folded text that was indexed (see :func:`laionlens.text.fts_text`).
"""

import logging
import sqlite3

log = logging.getLogger("laionlens.schema")

SCHEMA_VERSION = 3

# Columns of ``images`` in insert order, after ``id``.
IMAGE_COLUMNS = (
    "url",
    "url_hash",
    "caption",
    "width",
    "height",
    "similarity",
    "punsafe",
    "pwatermark",
    "aesthetic",
    "hash",
    "language",
    "license",
    "nsfw",
    "domain_id",
    "source_id",
    "source_row",
)

TABLES_SQL = """
CREATE TABLE IF NOT EXISTS domains (
    id INTEGER PRIMARY KEY,
    domain TEXT NOT NULL UNIQUE,
    image_count INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS ingest_files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL,
    name TEXT NOT NULL,
    fingerprint TEXT NOT NULL UNIQUE,
    size_bytes INTEGER,
    rows_total INTEGER,
    rows_done INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'started',
    started_at TEXT,
    finished_at TEXT
);
CREATE TABLE IF NOT EXISTS images (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL,
    -- laionlens.hashing.url_hash(url): look rows up by URL with url_hash = ? AND url = ?
    url_hash INTEGER,
    caption TEXT,
    width INTEGER,
    height INTEGER,
    similarity REAL,
    punsafe REAL,
    pwatermark REAL,
    aesthetic REAL,
    hash INTEGER,
    language TEXT,
    license TEXT,
    nsfw TEXT,
    domain_id INTEGER REFERENCES domains(id),
    source_id INTEGER REFERENCES ingest_files(id),
    source_row INTEGER
);
CREATE VIRTUAL TABLE IF NOT EXISTS images_fts USING fts5(
    caption,
    content='',
    tokenize="unicode61 remove_diacritics 2"
);
CREATE TABLE IF NOT EXISTS ingest_reports (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    sources TEXT NOT NULL,
    rows_read INTEGER NOT NULL DEFAULT 0,
    rows_written INTEGER NOT NULL DEFAULT 0,
    rows_skipped INTEGER NOT NULL DEFAULT 0,
    skipped_reasons TEXT NOT NULL DEFAULT '{}',
    duplicate_urls INTEGER NOT NULL DEFAULT 0,
    unknown_columns TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS removals (
    url_sha256 TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    removed_at TEXT NOT NULL
);
-- LAION hash values listed for removal, so an ingest skips those rows even when they
-- were not in the database yet at removal time.
CREATE TABLE IF NOT EXISTS removed_hashes (
    hash INTEGER PRIMARY KEY,
    reason TEXT NOT NULL,
    removed_at TEXT NOT NULL
);
-- Ids of removed rows, so their row pages can answer 410 Gone instead of 404.
CREATE TABLE IF NOT EXISTS removed_rows (
    image_id INTEGER PRIMARY KEY,
    url_sha256 TEXT NOT NULL,
    reason TEXT NOT NULL,
    removed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS lens_state (
    key TEXT PRIMARY KEY,
    value TEXT
);
"""

# Secondary indexes are created after a bulk load, never during it.
INDEXES_SQL = """
CREATE INDEX IF NOT EXISTS images_url_hash ON images(url_hash);
CREATE INDEX IF NOT EXISTS images_hash ON images(hash);
CREATE INDEX IF NOT EXISTS images_domain_id ON images(domain_id);
-- The domain facet of the whole images table reads the largest domains from this.
CREATE INDEX IF NOT EXISTS domains_by_count ON domains(image_count DESC, domain);
"""


def create_tables(conn: sqlite3.Connection) -> None:
    """Create every table that does not exist yet; existing data is left alone."""
    conn.executescript(TABLES_SQL)
    conn.execute(
        "INSERT OR IGNORE INTO lens_state(key, value) VALUES ('schema_version', ?)",
        (str(SCHEMA_VERSION),),
    )


def upgrade(conn: sqlite3.Connection) -> bool:
    """Bring a database built by schema version 1 or 2 to the current one; True if it did.

    Version 1 had no ``images.url_hash`` and indexed the full URL text. The column is
    added and filled in one transaction and the old index is dropped, which rewrites
    every row (minutes at 12 million rows), so it runs only from the commands that
    write: ingest and remove. ``laionlens check`` reports an old version instead.
    """
    columns = {row[1] for row in conn.execute("SELECT * FROM pragma_table_info('images')")}
    if not columns:
        return False
    if "url_hash" in columns:
        return _rehash_urls(conn)
    from laionlens.hashing import url_hash

    log.warning("upgrading the database to schema version %d: adding images.url_hash", SCHEMA_VERSION)
    conn.create_function("url_hash", 1, url_hash, deterministic=True)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("ALTER TABLE images ADD COLUMN url_hash INTEGER")
    conn.execute("UPDATE images SET url_hash = url_hash(url)")
    conn.execute("DROP INDEX IF EXISTS images_url")
    conn.execute("CREATE INDEX IF NOT EXISTS images_url_hash ON images(url_hash)")
    conn.execute("INSERT OR REPLACE INTO lens_state(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    conn.execute("COMMIT")
    return True


def _rehash_urls(conn: sqlite3.Connection) -> bool:
    """Recompute ``url_hash`` where version 2 hashed a URL whose scheme or host had capitals.

    Version 3 hashes :func:`laionlens.hashing.normalized_url`, which changes only those
    URLs and ones with a default port, so every other row keeps its value.
    """
    row = conn.execute("SELECT value FROM lens_state WHERE key = 'schema_version'").fetchone()
    if row is None or row[0] != "2":
        return False
    from laionlens.hashing import normalized_url, url_hash

    log.warning("upgrading the database to schema version %d: rehashing URLs with capitals in the host",
                SCHEMA_VERSION)
    conn.create_function("url_hash", 1, url_hash, deterministic=True)
    conn.create_function("normalized_url", 1, normalized_url, deterministic=True)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("UPDATE images SET url_hash = url_hash(url) WHERE normalized_url(url) != url")
    conn.execute("INSERT OR REPLACE INTO lens_state(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    conn.execute("COMMIT")
    return True
