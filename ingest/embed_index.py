"""Build the vector index from the ``embeddings`` table (``laionlens index``)."""

from __future__ import annotations

import logging
import sqlite3

import numpy as np
from tqdm import tqdm

from ingest.embed_store import EmbedError, read_vectors, stored_model
from laionlens.vectors import IndexBuilder, VectorIndex, plan_index

log = logging.getLogger("laionlens.index")


class IndexSourceError(EmbedError):
    """The database has no embeddings to index."""


def training_sample(conn, dim: int, size: int) -> np.ndarray:
    """Return a random sample of stored vectors to train a compressed index on."""
    rows = conn.execute("SELECT vector FROM embeddings ORDER BY random() LIMIT ?", (size,)).fetchall()
    return np.frombuffer(b"".join(r[0] for r in rows), dtype="<f2").reshape(len(rows), dim).astype(np.float32)


def build_from_database(db_path, out_path, memory_budget_mb: float, exact_max: int,
                        nprobe: int | None = None) -> VectorIndex:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        model = stored_model(conn) if "lens_state" in tables else None
        if "embeddings" not in tables or model is None:
            raise IndexSourceError(f"{str(db_path)!r} has no embeddings. Run laionlens embed --db {db_path} first")
        count = conn.execute("SELECT count(*) FROM embeddings").fetchone()[0]
        dim = int(model["dim"])
        plan = plan_index(count, dim, memory_budget_mb, exact_max)
        if nprobe and plan.kind == "ivfpq":
            plan.nprobe = min(nprobe, plan.nlist)
        meta = {key: model.get(key) for key in ("model_name", "pretrained", "checkpoint",
                                                "checkpoint_sha256", "preprocess_id")}
        builder = IndexBuilder(out_path, dim, count, meta, plan)
        if builder.needs_training:
            builder.train(training_sample(conn, dim, plan.train_size))
        with tqdm(total=count, unit="vec", unit_scale=True, desc="index") as bar:
            for ids, vectors in read_vectors(conn):
                builder.add(ids, vectors)
                bar.update(len(ids))
        return builder.finish()
    finally:
        conn.close()
