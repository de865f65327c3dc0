"""laionlens.vectors: build, load and search real FAISS indexes, exact and compressed."""

import json

import numpy as np
import pytest

from laionlens.vectors import (
    IndexCorrupt,
    IndexFilesMissing,
    VectorDimensionError,
    VectorIndex,
    build_index,
    plan_index,
    sidecar_path,
)

MODEL = {"model_name": "LensTinyCLIP", "pretrained": None, "checkpoint": None, "preprocess_id": "test"}


def clustered(count: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((50, dim))
    vectors = centres[rng.integers(0, 50, count)] + 0.3 * rng.standard_normal((count, dim))
    return vectors.astype(np.float32)


@pytest.fixture(scope="module", params=["flat", "ivfpq"])
def built(request, tmp_path_factory):
    """An exact and a compressed index of the same 12,000 vectors with sparse ids."""
    vectors = clustered(12_000)
    ids = np.arange(12_000, dtype=np.int64) * 3 + 7
    exact_max = 250_000 if request.param == "flat" else 1_000
    path = tmp_path_factory.mktemp(request.param) / "test.faiss"
    index = build_index(path, ids, vectors, memory_budget_mb=64, exact_max=exact_max, **MODEL)
    return index, ids, vectors


@pytest.mark.parametrize("count, dim, budget, kind", [
    (1_000, 512, None, "flat"),
    (250_000, 512, None, "flat"),
    (250_001, 512, None, "ivfpq"),
    (200_000, 512, 100, "ivfpq"),  # 400 MB of floats do not fit 100 MB
])
def test_plan_index_exact_below_threshold_compressed_above(count, dim, budget, kind):
    assert plan_index(count, dim, budget).kind == kind


@pytest.mark.parametrize("count, budget, pq_m", [
    (12_000_000, 1536, 64),  # 64-byte codes keep 12M vectors under 1.5 GB
    (12_000_000, 700, 32),  # a smaller budget gets smaller codes
    (1_000_000, 1536, 64),
])
def test_plan_index_code_size_fits_memory_budget(count, budget, pq_m):
    plan = plan_index(count, 512, budget)
    assert plan.pq_m == pq_m
    assert plan.estimated_bytes(count, 512) <= budget * 2**20


def test_vector_index_every_vector_finds_itself_first(built):
    index, ids, vectors = built
    sample = np.arange(0, len(ids), 97)
    results = index.search(vectors[sample], 5)
    assert [hits[0][0] for hits in results] == ids[sample].tolist()


def test_vector_index_recall_against_exact_search(built):
    index, ids, vectors = built
    queries = clustered(50, seed=1)
    normalised = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    truth = ids[np.argsort(-(q @ normalised.T), axis=1)[:, :10]]
    found = index.search(queries, 10)
    recall = np.mean([len({i for i, _ in hits} & set(row)) / 10 for hits, row in zip(found, truth)])
    assert recall >= 0.9


@pytest.mark.parametrize("k, expected", [(0, 0), (1, 1), (50, 50), (100_000, 12_000)])
def test_vector_index_k_larger_than_index_returns_what_exists(built, k, expected):
    index, _, vectors = built
    hits = index.search(vectors[0], k)[0]
    assert len(hits) == expected
    assert all(rowid >= 0 for rowid, _ in hits)
    assert [score for _, score in hits] == sorted((score for _, score in hits), reverse=True)


@pytest.mark.parametrize("query", [np.zeros(31, np.float32), np.zeros((2, 64), np.float32),
                                   np.full(32, np.nan, np.float32)])
def test_vector_index_wrong_dimension_or_nan_is_refused(built, query):
    with pytest.raises(VectorDimensionError):
        built[0].search(query, 3)


def test_vector_index_vector_of_known_and_unknown_rows(built):
    index, ids, vectors = built
    expected = vectors[5] / np.linalg.norm(vectors[5])
    assert np.allclose(index.vector_of(int(ids[5])), expected, atol=2e-3)
    assert index.vector_of(int(ids[5]) + 1) is None
    assert index.vector_of(10**12) is None


def test_vector_index_empty_index_returns_empty_lists(tmp_path):
    index = build_index(tmp_path / "empty.faiss", np.zeros(0, np.int64), np.zeros((0, 32), np.float32), **MODEL)
    assert index.search(np.ones(32, np.float32), 10) == [[]]
    assert VectorIndex.load(tmp_path / "empty.faiss").count == 0


def test_build_index_leaves_no_temporary_files_and_writes_sidecar(tmp_path):
    build_index(tmp_path / "a.faiss", np.arange(20), clustered(20), **MODEL)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a.faiss", "a.faiss.f16.npy", "a.faiss.ids.npy", "a.faiss.json"]
    sidecar = json.loads(sidecar_path(tmp_path / "a.faiss").read_text())
    assert (sidecar["model_name"], sidecar["dim"], sidecar["count"], sidecar["kind"]) == (
        "LensTinyCLIP", 32, 20, "flat")


def test_vector_index_load_refuses_tampered_ids_and_missing_files(tmp_path):
    path = tmp_path / "a.faiss"
    build_index(path, np.arange(20), clustered(20), **MODEL)
    sidecar = json.loads(sidecar_path(path).read_text())
    sidecar_path(path).write_text(json.dumps(dict(sidecar, ids_sha256="0" * 64)))
    with pytest.raises(IndexCorrupt, match="checksum of the row ids"):
        VectorIndex.load(path)
    sidecar_path(path).unlink()
    with pytest.raises(IndexFilesMissing, match="a.faiss.json"):
        VectorIndex.load(path)


def test_build_index_refuses_duplicate_ids(tmp_path):
    from laionlens.vectors import VectorIndexError

    with pytest.raises(VectorIndexError, match="unique"):
        build_index(tmp_path / "d.faiss", np.array([1, 1]), clustered(2), **MODEL)
