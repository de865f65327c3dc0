"""Rewriting the vector index without removed rows.

The server already drops neighbours whose id is missing from ``images``, so a stale
index never shows a removed row. Rewriting the index also frees the space and keeps
the count in its sidecar true.
"""

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ingest.removal_lists import RemovalError

log = logging.getLogger("laionlens.remove")


class VectorIndexRewriteError(RemovalError):
    """The vector index could not be loaded or rewritten without the removed rows."""


def remove_from_vector_index(index_path, removed_ids: Iterable[int]) -> int:
    """Rewrite the vector index at ``index_path`` without ``removed_ids``; return how many were removed.

    The .faiss file, its id and float16 vector files and the sidecar's count and id
    checksum are written under temporary names and renamed into place, so a reader
    sees either the old index or the new one. A server that already loaded the old
    index keeps serving it until restarted, but it drops ids missing from ``images``.
    """
    from laionlens import vectors

    path = Path(index_path)
    try:
        loaded = vectors.VectorIndex.load(path, mmap=False)
    except vectors.VectorIndexError as error:
        raise VectorIndexRewriteError(str(error)) from error
    ids = np.asarray(loaded.ids, dtype=np.int64)
    keep = ~np.isin(ids, np.fromiter(removed_ids, dtype=np.int64))
    dropped = int(len(ids) - keep.sum())
    if dropped:
        _write_index_without(loaded, path, ids, keep)
        log.info("removed %d vectors from %s, %d remain", dropped, path, int(keep.sum()))
    return dropped


def _write_index_without(loaded, path: Path, ids, keep) -> None:
    import faiss

    from laionlens import vectors

    removed = loaded.index.remove_ids(faiss.IDSelectorBatch(ids[~keep]))
    if removed != len(ids) - keep.sum():
        raise VectorIndexRewriteError(
            f"{path}: FAISS removed {removed} vectors but the id file lists {len(ids) - keep.sum()}; "
            f"rebuild the index with: laionlens index --db DB --out {path}"
        )
    suffix = f".tmp-{os.getpid()}"
    kept_ids = ids[keep]
    with open(f"{vectors.ids_path(path)}{suffix}", "wb") as handle:
        np.save(handle, kept_ids)
    _copy_kept_vectors(loaded.store, keep, f"{vectors.store_path(path)}{suffix}")
    faiss.write_index(loaded.index, f"{path}{suffix}")
    sidecar = dict(loaded.sidecar, count=len(kept_ids), ids_sha256=vectors.ids_checksum(kept_ids))
    Path(f"{vectors.sidecar_path(path)}{suffix}").write_text(json.dumps(sidecar, indent=2) + "\n",
                                                              encoding="utf-8")
    for final in (vectors.ids_path(path), vectors.store_path(path), path, vectors.sidecar_path(path)):
        os.replace(f"{final}{suffix}", final)


def _copy_kept_vectors(store, keep, target: str, chunk_rows: int = 65_536) -> None:
    """Copy the kept rows of the memory-mapped float16 store chunk by chunk, never all at once."""
    out = np.lib.format.open_memmap(target, "w+", store.dtype, (int(keep.sum()), store.shape[1]))
    written = 0
    for start in range(0, len(store), chunk_rows):
        rows = store[start:start + chunk_rows][keep[start:start + chunk_rows]]
        out[written:written + len(rows)] = rows
        written += len(rows)
    out.flush()
    del out
