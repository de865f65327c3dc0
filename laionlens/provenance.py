"""The ``generations`` table: every generated or uploaded image compared with the
training set, kept so that each comparison has a permalink and can be reproduced.

The table lives in the images database and is created on first use, so databases
built before it existed gain it without a migration. Functions here take an open
``sqlite3.Connection``; the web layer runs them through Datasette's write connection
(``db.execute_write_fn``) or read connections (``db.execute_fn``).
"""

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone

GENERATIONS_SQL = """
CREATE TABLE IF NOT EXISTS generations (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    source TEXT NOT NULL,
    backend TEXT NOT NULL,
    model TEXT,
    prompt TEXT,
    negative_prompt TEXT,
    seed INTEGER,
    params TEXT NOT NULL DEFAULT '{}',
    duration_ms INTEGER,
    image_sha256 TEXT NOT NULL,
    image_png BLOB,
    image_path TEXT,
    width INTEGER,
    height INTEGER,
    result TEXT NOT NULL DEFAULT '{}'
)
"""

# Every column except the image bytes, which only the image URL reads.
PUBLIC_COLUMNS = (
    "id", "created_at", "source", "backend", "model", "prompt", "negative_prompt", "seed",
    "params", "duration_ms", "image_sha256", "image_path", "width", "height", "result",
)


@dataclass
class GenerationRecord:
    """One row of ``generations``. ``source`` is 'generate' or 'upload'; ``params`` are
    the exact request parameters; ``seed`` is the seed the backend reports using."""

    source: str
    backend: str
    image_png: bytes
    image_sha256: str
    width: int
    height: int
    params: dict
    result: dict
    model: str | None = None
    prompt: str | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    duration_ms: int | None = None
    # Set by insert_generation.
    created_at: str | None = None


class GenerationNotFound(LookupError):
    """No row of ``generations`` has the requested id."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ensure_table(conn: sqlite3.Connection) -> None:
    conn.execute(GENERATIONS_SQL)


def insert_generation(conn: sqlite3.Connection, record: GenerationRecord) -> int:
    """Store ``record`` (creating the table if needed) and return its new id."""
    ensure_table(conn)
    record.created_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    row = {
        **{key: value for key, value in vars(record).items() if key not in ("params", "result")},
        "params": json.dumps(record.params, sort_keys=True),
        "result": json.dumps(record.result),
    }
    columns = ", ".join(row)
    placeholders = ", ".join(f":{key}" for key in row)
    with conn:
        cursor = conn.execute(f"INSERT INTO generations ({columns}) VALUES ({placeholders})", row)
    return cursor.lastrowid


def has_table(conn: sqlite3.Connection) -> bool:
    found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'generations'")
    return found.fetchone() is not None


def load_generation(conn: sqlite3.Connection, generation_id: int, with_image: bool = False) -> dict:
    """Return the row ``generation_id`` as a dict with ``params`` and ``result`` decoded.

    The image bytes are only read when ``with_image`` is true. Raises GenerationNotFound.
    """
    if not has_table(conn):
        raise GenerationNotFound(f"No generation {generation_id}: nothing has been generated here yet")
    columns = "*" if with_image else ", ".join(PUBLIC_COLUMNS)
    cursor = conn.execute(f"SELECT {columns} FROM generations WHERE id = ?", (generation_id,))
    row = cursor.fetchone()
    if row is None:
        raise GenerationNotFound(f"No generation {generation_id}")
    record = dict(zip([d[0] for d in cursor.description], row))
    record["params"] = json.loads(record["params"])
    record["result"] = json.loads(record["result"])
    return record
