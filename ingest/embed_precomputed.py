"""Load LAION's precomputed image embeddings and join them to our rows on (URL, caption).

LAION published OpenAI ViT-L/14 image embeddings (768-d, float16) for laion2B-en
as ``img_emb/img_emb_NNNN.npy`` beside ``metadata/metadata_NNNN.parquet``; row i
of the .npy belongs to row i of the parquet. Both files of a part may also sit in
one folder. The aesthetic subsets have no embeddings of their own and join to
these parts on (URL, TEXT), which is what this module does.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from tqdm import tqdm

from ingest.embed_store import EmbedError, claim_model, put_vectors
from laionlens.hashing import url_hashes

log = logging.getLogger("laionlens.embed")

PART = re.compile(r"^img_emb_(\d+)\.npy$")
URL_COLUMNS = ("url", "URL")
CAPTION_COLUMNS = ("caption", "TEXT", "text")


class PrecomputedLayoutError(EmbedError):
    """The folder does not hold img_emb_NNNN.npy files with matching metadata parquets."""


def find_parts(folder: Path) -> list[tuple[Path, Path]]:
    """Pairs of (embeddings .npy, metadata .parquet), by part number."""
    pairs = []
    for npy in sorted(folder.rglob("img_emb_*.npy")):
        match = PART.match(npy.name)
        if not match:
            continue
        name = f"metadata_{match[1]}.parquet"
        candidates = [npy.parent / name, npy.parent.parent / "metadata" / name]
        parquet = next((path for path in candidates if path.is_file()), None)
        if parquet is None:
            raise PrecomputedLayoutError(f"{npy} has no {name} beside it nor in ../metadata/")
        pairs.append((npy, parquet))
    if not pairs:
        raise PrecomputedLayoutError(
            f"No img_emb_NNNN.npy files under {str(folder)!r}; expected LAION's img_emb/ and metadata/ folders"
        )
    return pairs


def pick_column(names: list[str], choices: tuple[str, ...], path: Path) -> str:
    for choice in choices:
        if choice in names:
            return choice
    raise PrecomputedLayoutError(f"{path} has none of the columns {', '.join(choices)}; it has {', '.join(names)}")


def join_part(conn, parquet: Path) -> tuple[np.ndarray, np.ndarray]:
    """Return (parquet row numbers, image ids) of the rows matching ours on (url, caption)."""
    names = pq.read_schema(parquet).names
    table = pq.read_table(parquet, columns=[pick_column(names, URL_COLUMNS, parquet),
                                            pick_column(names, CAPTION_COLUMNS, parquet)])
    urls, captions = (column.to_pylist() for column in table.columns)
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS precomputed(rownum INTEGER, url TEXT, url_hash INTEGER, caption TEXT)")
    conn.execute("DELETE FROM precomputed")
    conn.executemany("INSERT INTO precomputed VALUES (?, ?, ?, ?)",
                     zip(range(len(urls)), urls, url_hashes(urls), captions))
    pairs = conn.execute(
        "SELECT p.rownum, i.id FROM precomputed p JOIN images i ON i.url_hash = p.url_hash AND i.url = p.url "
        "AND i.caption IS p.caption"
    ).fetchall()
    return np.array([p[0] for p in pairs], np.int64), np.array([p[1] for p in pairs], np.int64)


def embed_precomputed(conn, folder, *, model_name: str = "ViT-L-14", pretrained: str = "openai",
                      progress: bool = True, replace: bool = False) -> dict:
    """Store the precomputed vectors of every row found in the parts under ``folder``."""
    parts = find_parts(Path(folder))
    dim = int(np.load(parts[0][0], mmap_mode="r").shape[1])
    claim_model(conn, {"model_name": model_name, "pretrained": pretrained, "checkpoint": None,
                       "checkpoint_sha256": None, "preprocess_id": "laion-precomputed", "dim": dim}, replace)
    stored = read = 0
    for npy, parquet in tqdm(parts, unit="part", disable=not progress, desc="precomputed"):
        vectors = np.load(npy, mmap_mode="r")
        rownums, ids = join_part(conn, parquet)
        if len(vectors) != pq.read_metadata(parquet).num_rows:
            raise PrecomputedLayoutError(f"{npy.name} has {len(vectors)} rows but {parquet.name} has "
                                         f"{pq.read_metadata(parquet).num_rows}; they must match row for row")
        order = np.argsort(rownums)
        put_vectors(conn, ids[order], np.asarray(vectors[rownums[order]]))
        conn.commit()
        read += len(vectors)
        stored += len(ids)
        log.info("%s: %d of %d rows matched", npy.name, len(ids), len(vectors))
    return {"parts": len(parts), "read": read, "stored": stored}
