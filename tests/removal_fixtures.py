"""Small LAION-like shards and databases for the removal and check tests."""

import sqlite3
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

# (URL, caption, hash). Two rows share example.org, one caption is null, one is Japanese
# so the folded FTS text differs from the caption.
ROWS = [
    ("https://example.org/cat.jpg", "a grumpy cat on a sofa", -3942810832793181892),
    ("https://example.org/dog.jpg", "golden retriever puppy", 1234567890123),
    ("https://www.artstation.com/painting.png", "castle painting by greg rutkowski", 42),
    ("https://cdn.shop.example.com/mug.jpg", None, -7),
    ("https://img.example.jp/sakura.jpg", "桜の写真 sakura photo", 9_000_000_000_000_000_000),
    ("https://example.net/tree.jpg", "oak tree in autumn", 555),
]


def write_shard(path: Path, rows=ROWS, *, url_column="URL") -> Path:
    """Write ``rows`` as an aesthetics-v2-style parquet shard and return its path."""
    table = pa.table({
        url_column: [row[0] for row in rows],
        "TEXT": [row[1] for row in rows],
        "punsafe": [0.01 * i for i in range(len(rows))],
        "AESTHETIC_SCORE": [6.0 + 0.1 * i for i in range(len(rows))],
        "hash": pa.array([row[2] for row in rows], type=pa.int64()),
    })
    pq.write_table(table, path)
    return path


def build_database(tmp_path: Path, rows=ROWS) -> Path:
    """Ingest a shard of ``rows`` into a fresh database and return the database path."""
    from ingest.pipeline import ingest_paths

    db_path = tmp_path / "lens.db"
    shard = write_shard(tmp_path / "shard.parquet", rows)
    ingest_paths([shard], db_path)
    return db_path


def table_dump(db_path: Path) -> dict[str, list]:
    """Return every row of every ordinary table, plus the FTS document ids, for comparisons."""
    conn = sqlite3.connect(db_path)
    names = [row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'images_fts%' "
        "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    dump = {name: conn.execute(f'SELECT * FROM "{name}" ORDER BY 1').fetchall() for name in names}
    dump["images_fts_docsize"] = conn.execute("SELECT id FROM images_fts_docsize ORDER BY id").fetchall()
    conn.close()
    return dump


def fts_ids(db_path: Path, word: str) -> list[int]:
    """Return the ids whose caption contains ``word`` according to images_fts."""
    from laionlens.text import literal_query

    conn = sqlite3.connect(db_path)
    ids = [row[0] for row in conn.execute(
        "SELECT rowid FROM images_fts WHERE images_fts MATCH ? ORDER BY rowid", (literal_query(word),))]
    conn.close()
    return ids
