"""Tiny LAION Lens databases for the name report, keyword and grid tests.

Rows go through the real ingest: written to a parquet file with LAION's column names,
then ingested with ``ingest.pipeline.ingest_paths``.
"""

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

DEFAULTS = {"aesthetic": 5.0, "punsafe": 0.01, "pwatermark": 0.1}


def write_parquet(path: Path, rows: list[dict]) -> Path:
    """Write ``rows`` (url, caption and optional scores) as a LAION-style parquet file."""
    rows = [dict(DEFAULTS, **row) for row in rows]
    table = pa.table({
        "URL": [row["url"] for row in rows],
        "TEXT": [row["caption"] for row in rows],
        "WIDTH": [row.get("width", 512) for row in rows],
        "HEIGHT": [row.get("height", 512) for row in rows],
        "punsafe": pa.array([row["punsafe"] for row in rows], pa.float64()),
        "pwatermark": pa.array([row["pwatermark"] for row in rows], pa.float64()),
        "AESTHETIC_SCORE": pa.array([row["aesthetic"] for row in rows], pa.float64()),
    })
    pq.write_table(table, path)
    return path


def build_db(folder: Path, rows: list[dict], name: str = "lens") -> Path:
    """Ingest ``rows`` into ``folder/name.db`` and return its path; ids follow row order."""
    from ingest.pipeline import ingest_paths

    db_path = folder / f"{name}.db"
    ingest_paths([write_parquet(folder / f"{name}.parquet", rows)], db_path)
    return db_path
