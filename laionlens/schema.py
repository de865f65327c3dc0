"""The database schema shared by the ingest (which writes it) and the plugins (which read it).

One row of ``images`` is one LAION row. ``images_fts`` is a contentless FTS5 table
keyed by ``images.id``: it stores only the index, not a second copy of the captions,
and is fed with :func:`laionlens.text.fts_text` of each caption. Because it is
contentless, removing a row from it needs the ``'delete'`` command with the same
folded text that was indexed (see :func:`laionlens.text.fts_text`).
"""

import sqlite3

SCHEMA_VERSION = 1

# Columns of ``images`` in insert order, after ``id``.
IMAGE_COLUMNS = (
    "url",
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
CREATE INDEX IF NOT EXISTS images_url ON images(url);
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
