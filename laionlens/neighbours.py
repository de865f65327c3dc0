"""Nearest-neighbour rows of a query vector, joined to the database and filtered.

The vector index of a Datasette instance is loaded once and kept on that
instance. Loading checks it against the database (every row id in the index must
be a row of ``images`` or a recorded removal) and against the configured CLIP
model, and raises an error that names the mismatch.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
from pathlib import Path

import numpy as np

from laionlens.config import lens_config
from laionlens.text import literal_query
from laionlens.vectors import VectorIndex, VectorIndexError, file_sha256

log = logging.getLogger("laionlens.neighbours")

_ATTRIBUTE = "_laionlens_vector_index"
_load_lock = threading.Lock()
# A filtered search widens its FAISS candidate list up to this many before it falls
# back to scoring every row that passes the filters.
MAX_CANDIDATES = 16_384
# The exact fallback scores at most this many filtered rows.
MAX_FILTERED_ROWS = 200_000

FILTER_CLAUSES = {
    "punsafe_max": "i.punsafe <= :punsafe_max",
    "aesthetic_min": "i.aesthetic >= :aesthetic_min",
    "pwatermark_max": "i.pwatermark <= :pwatermark_max",
    "domain": "d.domain = :domain",
    "search": "i.id IN (SELECT rowid FROM images_fts WHERE images_fts MATCH :search)",
}

ROWS_SQL = """
SELECT i.id, i.url, i.caption, d.domain, i.punsafe, i.aesthetic, i.pwatermark
FROM images i LEFT JOIN domains d ON d.id = i.domain_id
WHERE i.id IN (SELECT value FROM json_each(:ids)){where}
"""


class IndexModelMismatch(VectorIndexError):
    """The index was built with a different CLIP model than the one configured."""


class IndexDatabaseMismatch(VectorIndexError):
    """The index holds row ids that the database does not have."""


def _model_key(name) -> str:
    name = str(name or "")
    return Path(name).stem if name.endswith(".json") else name


def check_model(index: VectorIndex, config: dict) -> None:
    """Raise IndexModelMismatch unless ``config``'s clip_* keys name the index's model."""
    side = index.sidecar
    built = f"{side.get('model_name')} ({side.get('checkpoint') or side.get('pretrained')})"
    wanted_checkpoint = config.get("clip_checkpoint")
    configured = f"{_model_key(config.get('clip_model'))} ({wanted_checkpoint or config.get('clip_pretrained')})"
    problem = None
    if _model_key(config.get("clip_model")) != side.get("model_name"):
        problem = "model name differs"
    elif wanted_checkpoint:
        if not side.get("checkpoint_sha256"):
            problem = "the index was built from a pretrained tag, not a checkpoint"
        elif not Path(wanted_checkpoint).is_file() or file_sha256(wanted_checkpoint) != side["checkpoint_sha256"]:
            problem = "checkpoint file content differs"
    elif side.get("checkpoint") or side.get("pretrained") != config.get("clip_pretrained"):
        problem = "pretrained weights differ"
    if problem:
        raise IndexModelMismatch(
            f"Vector index {str(index.path)!r} was built with CLIP {built}, but the server is "
            f"configured for {configured}: {problem}. Configure the same model (clip_model, "
            "clip_pretrained, clip_checkpoint) or rebuild the index with laionlens embed and "
            "laionlens index using the configured model."
        )


def check_database(index: VectorIndex, db_path: str) -> None:
    """Raise IndexDatabaseMismatch if the index contains ids neither in images nor removed."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        known = np.fromiter((row[0] for row in conn.execute("SELECT id FROM images ORDER BY id")), np.int64)
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "removed_rows" in tables:
            removed = np.fromiter((r[0] for r in conn.execute("SELECT image_id FROM removed_rows")), np.int64)
            known = np.union1d(known, removed)
    finally:
        conn.close()
    unknown = np.asarray(index.ids)[~np.isin(index.ids, known)]
    if len(unknown):
        raise IndexDatabaseMismatch(
            f"Vector index {str(index.path)!r} contains {len(unknown)} row ids that database "
            f"{db_path!r} does not have (for example {', '.join(map(str, unknown[:5]))}); it "
            f"was built for another database. Rebuild it with: laionlens index --db {db_path} "
            f"--out {index.path}"
        )


def images_database(datasette):
    """The Datasette Database with the images table: the configured one, else the first."""
    name = lens_config(datasette)["database"]
    if name:
        return datasette.databases[name]
    for database in datasette.databases.values():
        if database.name != "_internal" and database.path:
            return database
    raise VectorIndexError("No database is attached")


def index_from_datasette(datasette) -> VectorIndex | None:
    """The checked vector index of this Datasette instance, loaded on first use; None if unset."""
    config = lens_config(datasette)
    if not config["vector_index"]:
        return None
    with _load_lock:
        index = getattr(datasette, _ATTRIBUTE, None)
        if index is None:
            index = VectorIndex.load(config["vector_index"])
            check_model(index, config)
            check_database(index, images_database(datasette).path)
            setattr(datasette, _ATTRIBUTE, index)
        return index


def filter_clauses(filters: dict | None) -> tuple[str, dict]:
    """SQL conditions and parameters for the filters that are set; unknown keys are an error."""
    params, clauses = {}, []
    for name, value in (filters or {}).items():
        if value is None or value == "":
            continue
        if name not in FILTER_CLAUSES:
            raise ValueError(f"Unknown filter {name!r}; known filters: {', '.join(FILTER_CLAUSES)}")
        if name == "search":
            value = literal_query(value)
            if value is None:
                continue
        params[name] = value
        clauses.append(FILTER_CLAUSES[name])
    return "".join(f" AND {clause}" for clause in clauses), params


async def _rows_for(database, hits: list[tuple[int, float]], where: str, params: dict) -> list[dict]:
    if not hits:
        return []
    sql = ROWS_SQL.format(where=where)
    result = await database.execute(sql, dict(params, ids=json.dumps([rowid for rowid, _ in hits])))
    by_id = {row["id"]: dict(row) for row in result.rows}
    rows = []
    for rowid, score in hits:
        if rowid in by_id:
            rows.append(dict(by_id[rowid], similarity=round(score, 6)))
    return rows


async def _filtered_exact(database, index: VectorIndex, query: np.ndarray, k: int,
                          where: str, params: dict) -> list[tuple[int, float]]:
    """Score every row passing the filters against its stored vector (restrictive filters)."""
    sql = ("SELECT i.id FROM images i LEFT JOIN domains d ON d.id = i.domain_id WHERE 1=1"
           f"{where} LIMIT {MAX_FILTERED_ROWS}")
    result = await database.execute(sql, params, custom_time_limit=5000)
    ids = np.array([row[0] for row in result.rows], dtype=np.int64)
    return await asyncio.to_thread(index.score_ids, query, ids, k)


async def find_neighbours(datasette, vectors: np.ndarray, k: int, filters: dict | None = None,
                          database=None) -> list[dict]:
    """Return up to ``k`` rows most similar to the query vector, best first, filters applied.

    Rows that are no longer in ``images`` (removed) are skipped. Raises
    VectorDimensionError for a vector of the wrong dimension.
    """
    index = await asyncio.to_thread(index_from_datasette, datasette)
    if index is None:
        raise VectorIndexError("No vector index is configured (vector_index in metadata.yml)")
    database = database or images_database(datasette)
    query = index.check_query(vectors)[:1]
    where, params = filter_clauses(filters)
    wanted = max(int(k), 0)
    candidates = min(wanted * (8 if where else 2), index.count)
    while wanted:
        hits = (await asyncio.to_thread(index.search, query, candidates))[0]
        rows = await _rows_for(database, hits, where, params)
        if len(rows) >= wanted or candidates >= index.count:
            return rows[:wanted]
        if candidates >= MAX_CANDIDATES:
            break
        candidates = min(candidates * 4, MAX_CANDIDATES, index.count)
    if not wanted:
        return []
    hits = await _filtered_exact(database, index, query[0], wanted, where, params)
    return await _rows_for(database, hits, where, params)


async def row_neighbours(datasette, database, row_id: int, k: int, filters: dict | None = None) -> list[dict]:
    """Rows most similar to row ``row_id`` by its stored vector, without the row itself."""
    index = await asyncio.to_thread(index_from_datasette, datasette)
    if index is None:
        return []
    vector = index.vector_of(row_id)
    if vector is None:
        return []
    rows = await find_neighbours(datasette, vector, k + 1, filters, database=database)
    return [row for row in rows if row["id"] != row_id][:k]
