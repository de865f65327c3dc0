"""The FAISS vector index of image embeddings, keyed by ``images.id``.

An index is three files beside each other, plus a JSON sidecar::

    laion.faiss            the FAISS index (ids are images.id)
    laion.faiss.ids.npy    int64 row ids, ascending
    laion.faiss.f16.npy    float16 vectors in the same order as the ids
    laion.faiss.json       model, preprocessing, dimension, count, checksum of the ids

Vectors are L2-normalised, so the inner product is the cosine similarity. Below
``EXACT_MAX`` vectors the index is exact (a flat inner-product index). Above it,
the index is IVF (with an HNSW coarse quantizer) + PQ, with a code size chosen to
fit the memory budget; its candidates are re-ranked exactly from the float16 vectors,
which are memory-mapped from disk and only read where a query touches them.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger("laionlens.vectors")

FORMAT_VERSION = 1
EXACT_MAX = 250_000
DEFAULT_MEMORY_BUDGET_MB = 1536
# Exact re-ranking looks at this many approximate candidates at least. Near
# duplicates have almost equal 64-byte PQ codes, so the true top 10 often rank far
# down the approximate list: at 12M synthetic vectors (bench/vectors_recall.py),
# 128 candidates gave recall@10 0.79 and 512 gave 0.97 at a p95 of 10 ms.
RERANK_CANDIDATES = 512
# Fewer vectors than this cannot train PQ codebooks (256 centroids each) and
# coarse lists, so they always get an exact index.
MIN_TRAIN = 10_000
# When the probed lists of a compressed index hold fewer than k vectors, indexes up
# to this size answer from every stored vector; larger ones return what they found.
EXACT_FALLBACK_MAX = 1_000_000
# Code sizes in bytes per vector, largest first; above 64 training gets slow.
PQ_CHOICES = (64, 48, 32, 16, 8)


class VectorIndexError(Exception):
    """Base class of vector index errors."""


class IndexFilesMissing(VectorIndexError):
    """A file of the index (the .faiss file, its sidecar or its vector store) is missing."""


class IndexCorrupt(VectorIndexError):
    """The files of an index disagree with each other or with the sidecar."""


class VectorDimensionError(VectorIndexError, ValueError):
    """A query vector does not have the dimension of the index."""


def sidecar_path(path) -> Path:
    return Path(f"{path}.json")


def ids_path(path) -> Path:
    return Path(f"{path}.ids.npy")


def store_path(path) -> Path:
    return Path(f"{path}.f16.npy")


def ids_checksum(ids: np.ndarray) -> str:
    """SHA-256 of the row ids as little-endian int64, in ascending order."""
    return hashlib.sha256(np.ascontiguousarray(ids, dtype="<i8").tobytes()).hexdigest()


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


@dataclass
class IndexPlan:
    """What kind of FAISS index to build for ``count`` vectors within a memory budget."""

    kind: str  # "flat" or "ivfpq"
    nlist: int = 0
    pq_m: int = 0
    nprobe: int = 0
    train_size: int = 0

    def factory_string(self, dim: int) -> str:
        if self.kind == "flat":
            return "IDMap2,Flat"
        return f"IVF{self.nlist}_HNSW32,PQ{self.pq_m}"

    def estimated_bytes(self, count: int, dim: int) -> int:
        if self.kind == "flat":
            return count * (dim * 4 + 8)
        return int(count * (self.pq_m + 8) * 1.25) + self.nlist * dim * 4 * 2


def plan_index(count: int, dim: int, memory_budget_mb: float | None = None,
               exact_max: int = EXACT_MAX) -> IndexPlan:
    """Choose exact search for small collections, else the largest PQ code that fits."""
    budget = (memory_budget_mb or DEFAULT_MEMORY_BUDGET_MB) * 1024 * 1024
    flat = IndexPlan("flat")
    if count < MIN_TRAIN or (count <= exact_max and flat.estimated_bytes(count, dim) <= budget):
        return flat
    # About sqrt(count)/2 lists: few enough that k-means on 32 vectors per list
    # trains in minutes on two cores, many enough that 16 probed lists stay small.
    nlist = int(2 ** round(math.log2(max(math.sqrt(count) / 2, 16))))
    nlist = max(16, min(nlist, 65536, max(16, count // 39)))
    for m in PQ_CHOICES:
        if dim % m or dim // m < 2:
            continue
        plan = IndexPlan("ivfpq", nlist=nlist, pq_m=m, nprobe=min(nlist, 16),
                         train_size=min(count, max(32 * nlist, 32_768), 131_072))
        if plan.estimated_bytes(count, dim) <= budget:
            return plan
    raise VectorIndexError(
        f"{count:,} vectors of dimension {dim} do not fit a memory budget of "
        f"{memory_budget_mb} MB even with 8-byte codes; raise --memory-budget."
    )


class IndexBuilder:
    """Writes an index in chunks: ``train`` (approximate indexes only), ``add``, ``finish``.

    Ids must arrive in ascending order across ``add`` calls, because the float16
    store beside the index is looked up by binary search on them. Nothing is
    visible at ``path`` until ``finish`` renames the temporary files into place.
    """

    def __init__(self, path, dim: int, count: int, metadata: dict, plan: IndexPlan):
        import faiss

        self.path, self.dim, self.count, self.plan = Path(path), dim, count, plan
        self.metadata = metadata
        self.index = faiss.index_factory(dim, plan.factory_string(dim), faiss.METRIC_INNER_PRODUCT)
        self.tmp = f".tmp-{os.getpid()}"
        self.ids = np.lib.format.open_memmap(f"{ids_path(path)}{self.tmp}", "w+", np.int64, (count,))
        self.store = np.lib.format.open_memmap(
            f"{store_path(path)}{self.tmp}", "w+", np.float16, (max(count, 0), dim)
        )
        self.done = 0

    @property
    def needs_training(self) -> bool:
        return not self.index.is_trained

    def train(self, sample: np.ndarray) -> None:
        import faiss

        if self.needs_training:
            log.info("training %s on %d vectors", self.plan.factory_string(self.dim), len(sample))
            ivf = faiss.downcast_index(faiss.extract_index_ivf(self.index))
            # Polysemous training (on by default) optimises codes for Hamming-distance
            # filtering, which this index never uses, and took minutes of annealing.
            ivf.do_polysemous_training = False
            # 64 points per PQ centroid (16k vectors) are enough to train the codebooks.
            ivf.pq.cp.max_points_per_centroid = 64
            self.index.train(normalise(sample))

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        vectors = normalise(vectors)
        end = self.done + len(ids)
        if len(ids) and self.done and ids[0] <= self.ids[self.done - 1]:
            raise VectorIndexError("row ids must be added in ascending order")
        if end > self.count:
            raise VectorIndexError(f"more than the announced {self.count} vectors were added")
        self.index.add_with_ids(vectors, ids)
        self.ids[self.done:end] = ids
        self.store[self.done:end] = vectors.astype(np.float16)
        self.done = end

    def finish(self) -> VectorIndex:
        import faiss

        if self.done != self.count:
            raise VectorIndexError(f"{self.done} vectors added, {self.count} announced")
        self.ids.flush()
        self.store.flush()
        sidecar = dict(self.metadata, format=FORMAT_VERSION, kind=self.plan.kind,
                       factory=self.plan.factory_string(self.dim), nprobe=self.plan.nprobe,
                       dim=self.dim, count=self.count, ids_sha256=ids_checksum(self.ids),
                       built_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
        del self.ids, self.store
        faiss.write_index(self.index, f"{self.path}{self.tmp}")
        sidecar_tmp = Path(f"{sidecar_path(self.path)}{self.tmp}")
        sidecar_tmp.write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")
        for final in (ids_path(self.path), store_path(self.path), self.path, sidecar_path(self.path)):
            os.replace(f"{final}{self.tmp}", final)
        log.info("wrote %s: %d vectors, %s", self.path, self.count, sidecar["factory"])
        return VectorIndex.load(self.path)


def model_metadata(model_name, pretrained, checkpoint, preprocess_id) -> dict:
    """The sidecar fields that identify the model which made the vectors."""
    return {
        "model_name": model_name,
        "pretrained": None if checkpoint else pretrained,
        "checkpoint": str(checkpoint) if checkpoint else None,
        "checkpoint_sha256": file_sha256(checkpoint) if checkpoint and Path(checkpoint).is_file() else None,
        "preprocess_id": preprocess_id,
    }


def build_index(path, ids: np.ndarray, vectors: np.ndarray, *, model_name, pretrained, checkpoint,
                preprocess_id, memory_budget_mb=None, exact_max: int = EXACT_MAX) -> VectorIndex:
    """Build an index of ``vectors`` keyed by ``ids`` at ``path`` (replaced atomically)."""
    ids = np.asarray(ids, dtype=np.int64)
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(ids):
        raise VectorIndexError(f"expected {len(ids)} vectors as a 2-d array, got shape {vectors.shape}")
    if len(np.unique(ids)) != len(ids):
        raise VectorIndexError("row ids must be unique")
    order = np.argsort(ids, kind="stable")
    ids, vectors = ids[order], vectors[order]
    dim = vectors.shape[1]
    plan = plan_index(len(ids), dim, memory_budget_mb, exact_max)
    metadata = model_metadata(model_name, pretrained, checkpoint, preprocess_id)
    builder = IndexBuilder(path, dim, len(ids), metadata, plan)
    if builder.needs_training:
        rng = np.random.default_rng(0)
        sample = rng.choice(len(ids), size=min(plan.train_size, len(ids)), replace=False)
        builder.train(vectors[np.sort(sample)])
    for start in range(0, len(ids), 65_536):
        builder.add(ids[start:start + 65_536], vectors[start:start + 65_536])
    return builder.finish()


class VectorIndex:
    """A loaded index: search by vector, look up a row's stored vector."""

    def __init__(self, path: Path, sidecar: dict, index, ids: np.ndarray, store: np.ndarray):
        self.path, self.sidecar, self.index = path, sidecar, index
        self.ids, self.store = ids, store
        self.dim = int(sidecar["dim"])
        self.count = int(sidecar["count"])
        self.nprobe = int(sidecar.get("nprobe") or 0)

    @classmethod
    def load(cls, path, mmap: bool = True) -> VectorIndex:
        """Load an index and check its files against the sidecar; mmap keeps it on disk."""
        import faiss

        path = Path(path)
        for needed in (path, sidecar_path(path), ids_path(path), store_path(path)):
            if not needed.is_file():
                raise IndexFilesMissing(
                    f"Vector index file {str(needed)!r} is missing. Rebuild the index with: "
                    f"laionlens index --db DB --out {path}"
                )
        sidecar = json.loads(sidecar_path(path).read_text(encoding="utf-8"))
        flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0
        index = faiss.read_index(str(path), flags)
        ids = np.load(ids_path(path), mmap_mode="r" if mmap else None)
        store = np.load(store_path(path), mmap_mode="r")
        loaded = cls(path, sidecar, index, ids, store)
        loaded.check_files()
        log.info("loaded vector index %s: %d vectors of dimension %d", path, loaded.count, loaded.dim)
        return loaded

    def check_files(self) -> None:
        problems = []
        if self.index.ntotal != self.count or len(self.ids) != self.count or len(self.store) != self.count:
            problems.append(f"counts differ (sidecar {self.count}, index {self.index.ntotal}, "
                            f"ids {len(self.ids)}, vectors {len(self.store)})")
        if self.index.d != self.dim:
            problems.append(f"dimension {self.index.d} in the index, {self.dim} in the sidecar")
        if ids_checksum(self.ids) != self.sidecar.get("ids_sha256"):
            problems.append("checksum of the row ids differs from the sidecar")
        if problems:
            raise IndexCorrupt(f"Vector index {str(self.path)!r} is inconsistent: {'; '.join(problems)}. "
                               f"Rebuild it with: laionlens index --db DB --out {self.path}")

    def check_query(self, vectors: np.ndarray) -> np.ndarray:
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim == 1:
            vectors = vectors[None, :]
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise VectorDimensionError(
                f"query vector has dimension {vectors.shape[-1] if vectors.ndim else 0}, "
                f"but index {self.path.name!r} holds vectors of dimension {self.dim}"
            )
        if not np.all(np.isfinite(vectors)):
            raise VectorDimensionError("query vector contains NaN or infinite values")
        return normalise(vectors)

    def search(self, vectors: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        """Return, per query, up to ``k`` (rowid, cosine) pairs, best first."""
        queries = self.check_query(vectors)
        k = min(int(k), self.count)
        if k <= 0:
            return [[] for _ in queries]
        if self.sidecar.get("kind") == "flat":
            scores, ids = self.index.search(queries, k)
            return [_pairs(row_ids, row_scores) for row_ids, row_scores in zip(ids, scores)]
        return self._search_reranked(queries, k)

    def _search_reranked(self, queries: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        import faiss

        candidates = min(self.count, max(RERANK_CANDIDATES, 4 * k))
        _, ids = self.index.search(queries, candidates, params=faiss.SearchParametersIVF(nprobe=self.nprobe or 32))
        results = []
        for query, row_ids in zip(queries, ids):
            row_ids = row_ids[row_ids >= 0]
            if len(row_ids) < k and self.count <= EXACT_FALLBACK_MAX:
                # The probed lists hold fewer than k vectors: score every stored vector.
                results.append(self.score_ids(query, self.ids, k))
                continue
            positions = np.searchsorted(self.ids, row_ids)
            exact = self.store[np.sort(positions)].astype(np.float32) @ query
            order = np.argsort(-exact)[:k]
            results.append(_pairs(self.ids[np.sort(positions)][order], exact[order]))
        return results

    def score_ids(self, query: np.ndarray, rowids: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Exact cosine of ``query`` with the stored vectors of ``rowids``; the best ``k``."""
        query = self.check_query(query)[0]
        rowids = np.asarray(rowids, dtype=np.int64)
        positions = np.searchsorted(self.ids, rowids)
        inside = positions < self.count
        positions = positions[inside]
        positions = np.sort(positions[np.asarray(self.ids[positions]) == rowids[inside]])
        if not len(positions):
            return []
        scores = self.store[positions].astype(np.float32) @ query
        order = np.argsort(-scores)[:k]
        return _pairs(np.asarray(self.ids[positions])[order], scores[order])

    def vector_of(self, rowid: int) -> np.ndarray | None:
        """Return the stored (float16-precision) vector of ``rowid``, or None if it has none."""
        position = int(np.searchsorted(self.ids, rowid))
        if position >= self.count or int(self.ids[position]) != int(rowid):
            return None
        return np.asarray(self.store[position], dtype=np.float32)


def _pairs(ids, scores) -> list[tuple[int, float]]:
    return [(int(i), float(s)) for i, s in zip(ids, scores) if i >= 0]
