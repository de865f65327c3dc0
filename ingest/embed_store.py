"""Storage of image embeddings between ``laionlens embed`` and ``laionlens index``.

Two tables in the LAION Lens database, both keyed by ``images.id`` so that
``laionlens remove`` deletes a removed row's vector and status with the row:

- ``embeddings(image_id, vector)``: one float16 vector per row, as bytes;
- ``embedding_status(image_id, status, reason, attempts, updated_at)``: the outcome
  of the last attempt per row (``ok``, ``failed`` with its reason, or ``skipped``
  for images whose server opted out with ``X-Robots-Tag: noai``).

The model that made the vectors is recorded in ``lens_state`` under
``embedding_model``; vectors of two different models are never mixed.
"""

from __future__ import annotations

import datetime
import json
import logging
import sqlite3

import numpy as np

log = logging.getLogger("laionlens.embed")

TABLES_SQL = """
CREATE TABLE IF NOT EXISTS embeddings (
    image_id INTEGER PRIMARY KEY,
    vector BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS embedding_status (
    image_id INTEGER PRIMARY KEY,
    status TEXT NOT NULL,
    reason TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
);
"""

STATUS_SQL = """
INSERT INTO embedding_status(image_id, status, reason, attempts, updated_at)
VALUES (:id, :status, :reason, 1, :now)
ON CONFLICT(image_id) DO UPDATE SET status = excluded.status, reason = excluded.reason,
    attempts = embedding_status.attempts + 1, updated_at = excluded.updated_at
"""

MODEL_KEY = "embedding_model"
# Fields that must agree for vectors to be comparable.
MODEL_FIELDS = ("model_name", "pretrained", "checkpoint_sha256", "preprocess_id", "dim")


class EmbedError(Exception):
    """Base class of embedding ingest errors."""


class EmbeddingModelMismatch(EmbedError):
    """The database already contains vectors from another model."""


class NotALensDatabase(EmbedError):
    """The database file has no images table."""


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def open_store(db_path) -> sqlite3.Connection:
    conn = sqlite3.connect(db_path)
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "images" not in tables:
        conn.close()
        raise NotALensDatabase(
            f"{str(db_path)!r} has no images table. Build it first with: laionlens ingest SOURCE --db {db_path}"
        )
    conn.executescript(TABLES_SQL)
    return conn


def stored_model(conn) -> dict | None:
    row = conn.execute("SELECT value FROM lens_state WHERE key = ?", (MODEL_KEY,)).fetchone()
    return json.loads(row[0]) if row else None


def claim_model(conn, model: dict, replace: bool = False) -> None:
    """Record ``model`` as the model of the stored vectors; raise EmbeddingModelMismatch for another one."""
    current = stored_model(conn)
    has_vectors = conn.execute("SELECT 1 FROM embeddings LIMIT 1").fetchone() is not None
    if current and has_vectors and not replace:
        differing = [f for f in MODEL_FIELDS if current.get(f) != model.get(f)]
        if differing:
            raise EmbeddingModelMismatch(
                f"The database contains vectors of {current.get('model_name')} "
                f"({current.get('checkpoint') or current.get('pretrained')}), and this run uses "
                f"{model.get('model_name')} ({model.get('checkpoint') or model.get('pretrained')}); "
                f"they differ in {', '.join(differing)}. Use the same model, or pass --replace "
                "to delete the stored vectors and start again."
            )
    if replace:
        conn.execute("DELETE FROM embeddings")
        conn.execute("DELETE FROM embedding_status")
    conn.execute("INSERT OR REPLACE INTO lens_state(key, value) VALUES (?, ?)", (MODEL_KEY, json.dumps(model)))
    conn.commit()


def put_vectors(conn, ids, vectors: np.ndarray) -> None:
    vectors = np.asarray(vectors, dtype=np.float32)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    stamp = now()
    conn.executemany("INSERT OR REPLACE INTO embeddings(image_id, vector) VALUES (?, ?)",
                     [(int(i), v.astype("<f2").tobytes()) for i, v in zip(ids, vectors)])
    conn.executemany(STATUS_SQL, [{"id": int(i), "status": "ok", "reason": None, "now": stamp} for i in ids])


def record_failure(conn, image_id: int, reason: str, status: str = "failed") -> None:
    log.debug("image %s %s: %s", image_id, status, reason)
    conn.execute(STATUS_SQL, {"id": int(image_id), "status": status, "reason": reason[:500], "now": now()})


def pending_rows(conn, max_attempts: int) -> list[tuple[int, str]]:
    """(id, url) of rows with no vector, not opted out and under ``max_attempts`` tries."""
    return conn.execute(
        "SELECT i.id, i.url FROM images i LEFT JOIN embedding_status s ON s.image_id = i.id "
        "WHERE i.id NOT IN (SELECT image_id FROM embeddings) "
        "AND (s.status IS NULL OR (s.status = 'failed' AND s.attempts < ?)) ORDER BY i.id",
        (max_attempts,),
    ).fetchall()


def status_counts(conn) -> dict:
    return dict(conn.execute("SELECT status, count(*) FROM embedding_status GROUP BY status").fetchall())


def read_vectors(conn, batch: int = 100_000):
    """Yield (ids, float32 vectors) in ascending id order, ``batch`` rows at a time."""
    model = stored_model(conn)
    dim = int(model["dim"]) if model else 0
    cursor = conn.execute("SELECT image_id, vector FROM embeddings ORDER BY image_id")
    while rows := cursor.fetchmany(batch):
        ids = np.fromiter((row[0] for row in rows), np.int64, len(rows))
        vectors = np.frombuffer(b"".join(row[1] for row in rows), dtype="<f2").reshape(len(rows), dim)
        yield ids, vectors.astype(np.float32)
