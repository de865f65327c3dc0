"""Recall@10, single-query latency, memory and build time of the vector index at scale.

Synthetic clustered vectors stand in for CLIP embeddings: each vector is one of
4,096 cluster centres plus one of its 16 sub-centres plus isotropic noise, normalised. They are
generated deterministically chunk by chunk, so 12 million 512-d vectors (24 GB as
float32) never need to fit in memory. The index is built with the same
laionlens.vectors.IndexBuilder that ``laionlens index`` uses: trained on a sample,
filled chunk by chunk. Exact top-10 ground truth for the queries is computed by
streaming over the same chunks during the build. The search side then runs in a
fresh process that memory-maps the index, so its resident memory is measured alone.

    nice python bench/vectors_recall.py --count 1000000
    nice python bench/vectors_recall.py --count 12000000 --work-dir /tmp/lens-bench
"""

import os

# Other jobs share the machine: OpenMP threads spinning on an oversubscribed CPU
# slow FAISS down by orders of magnitude, so FAISS and BLAS get one thread each.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

CLUSTERS = 4096
SUBCLUSTERS = 16  # per cluster


def generator_state(dim: int, seed: int):
    rng = np.random.default_rng([seed, 0])
    centres = rng.standard_normal((CLUSTERS, dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    subcentres = rng.standard_normal((CLUSTERS * SUBCLUSTERS, dim), dtype=np.float32)
    subcentres /= np.linalg.norm(subcentres, axis=1, keepdims=True)
    return centres, subcentres


def make_chunk(state, number: int, size: int, seed: int, dim: int) -> np.ndarray:
    """Vectors of chunk ``number``: the same values on every call."""
    centres, subcentres = state
    rng = np.random.default_rng([seed, 1, number])
    cluster = rng.integers(0, CLUSTERS, size)
    sub = cluster * SUBCLUSTERS + rng.integers(0, SUBCLUSTERS, size)
    # Unit cluster centres, sub-centres of norm 0.5 and noise of norm about 0.3: a
    # vector's near neighbours share its sub-cluster, as near-duplicates share a topic.
    noise = rng.standard_normal((size, dim), dtype=np.float32) * (0.3 / np.sqrt(dim))
    vectors = centres[cluster] + 0.5 * subcentres[sub] + noise
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def chunks(count: int, chunk: int):
    for number, start in enumerate(range(0, count, chunk)):
        yield number, start, min(chunk, count - start)


def merge_top(best_scores, best_ids, scores, ids_offset, k):
    """Keep the k best (score, id) per query across chunks."""
    top = np.argpartition(-scores, k, axis=1)[:, :k]
    cand_scores = np.concatenate([best_scores, np.take_along_axis(scores, top, 1)], axis=1)
    cand_ids = np.concatenate([best_ids, top + ids_offset], axis=1)
    keep = np.argsort(-cand_scores, axis=1)[:, :k]
    return np.take_along_axis(cand_scores, keep, 1), np.take_along_axis(cand_ids, keep, 1)


def build(args, work: Path) -> dict:
    from laionlens.vectors import IndexBuilder, plan_index

    state = generator_state(args.dim, args.seed)
    queries = make_chunk(state, 10**9, args.queries, args.seed, args.dim)
    plan = plan_index(args.count, args.dim, args.memory_budget)
    meta = {"model_name": "synthetic", "pretrained": None, "checkpoint": None,
            "checkpoint_sha256": None, "preprocess_id": "synthetic"}
    started = time.perf_counter()
    builder = IndexBuilder(work / "bench.faiss", args.dim, args.count, meta, plan)
    if builder.needs_training:
        builder.train(make_chunk(state, 0, min(plan.train_size, args.count), args.seed + 1, args.dim))
    trained = time.perf_counter()
    best_s = np.full((args.queries, 10), -np.inf, np.float32)
    best_i = np.zeros((args.queries, 10), np.int64)
    with tqdm(total=args.count, unit="vec", unit_scale=True, desc="add + ground truth") as bar:
        for number, start, size in chunks(args.count, args.chunk):
            vectors = make_chunk(state, number, size, args.seed, args.dim)
            builder.add(np.arange(start, start + size, dtype=np.int64), vectors)
            best_s, best_i = merge_top(best_s, best_i, queries @ vectors.T, start, 10)
            bar.update(size)
    builder.finish()
    np.save(work / "queries.npy", queries)
    np.save(work / "truth.npy", best_i)
    return {"plan": plan.factory_string(args.dim), "train_s": round(trained - started, 1),
            "build_s": round(time.perf_counter() - started, 1)}


def rss_parts() -> dict:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "RssAnon", "RssFile"):
            fields[name] = int(value.split()[0]) // 1024
    return fields


def time_queries(index, queries, truth) -> dict:
    latencies, recalls = [], []
    for query, expected in zip(queries, truth):
        start = time.perf_counter()
        hits = index.search(query, 10)[0]
        latencies.append((time.perf_counter() - start) * 1000)
        recalls.append(len({rowid for rowid, _ in hits} & set(expected.tolist())) / 10)
    return {
        "recall_at_10": round(float(np.mean(recalls)), 4),
        "p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "p95_ms": round(float(np.percentile(latencies, 95)), 2),
    }


def serve(work: Path, nprobes: list[int], reranks: list[int]) -> dict:
    """Run in a fresh process: load the index memory-mapped and time single queries.

    Each probe count in ``nprobes`` (0: the one the index was built with) and each
    number of re-ranked candidates in ``reranks`` get their own pass over the queries,
    in order, so later passes run with a warmer page cache.
    """
    from laionlens import vectors
    from laionlens.vectors import VectorIndex

    before = rss_parts()
    start = time.perf_counter()
    index = VectorIndex.load(work / "bench.faiss", mmap=True)
    load_s = time.perf_counter() - start
    queries, truth = np.load(work / "queries.npy"), np.load(work / "truth.npy")
    built_nprobe = index.nprobe
    passes = {}
    for nprobe in nprobes:
        for rerank in reranks:
            index.nprobe = nprobe or built_nprobe
            vectors.RERANK_CANDIDATES = rerank
            passes[f"nprobe {index.nprobe}, rerank {rerank}"] = time_queries(index, queries, truth)
    after = rss_parts()
    return {
        **next(iter(passes.values())),
        "passes": passes,
        "load_s": round(load_s, 1),
        "rss_mb_before_load": before["VmRSS"],
        "rss_mb_after_queries": after["VmRSS"],
        "rss_anon_mb": after["RssAnon"],
        "rss_file_mb": after["RssFile"],
    }


def file_sizes(work: Path) -> dict:
    return {path.name: round(path.stat().st_size / 2**20) for path in sorted(work.glob("bench.faiss*"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="number of vectors")
    parser.add_argument("--dim", type=int, default=512, help="vector dimension")
    parser.add_argument("--queries", type=int, default=300, help="number of timed queries")
    parser.add_argument("--chunk", type=int, default=250_000, help="vectors generated at a time")
    parser.add_argument("--memory-budget", type=float, default=1536, help="index budget in MB")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work-dir", help="folder for the index files (default: a temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the index files afterwards")
    parser.add_argument("--nprobe", default="0",
                        help="comma-separated probe counts to time, 0 for the built one (e.g. 0,32,64)")
    parser.add_argument("--rerank", default="128",
                        help="comma-separated numbers of candidates re-ranked exactly (e.g. 128,512)")
    parser.add_argument("--serve-only", help=argparse.SUPPRESS)
    args = parser.parse_args()
    nprobes = [int(value) for value in args.nprobe.split(",")]
    reranks = [int(value) for value in args.rerank.split(",")]
    if args.serve_only:
        print(json.dumps(serve(Path(args.serve_only), nprobes, reranks)))
        return
    work = Path(tempfile.mkdtemp(prefix="lens-vectors-", dir=args.work_dir))
    try:
        result = {"count": args.count, "dim": args.dim, **build(args, work), "files_mb": file_sizes(work)}
        served = subprocess.run([sys.executable, __file__, "--serve-only", str(work),
                                 "--nprobe", args.nprobe, "--rerank", args.rerank],
                                check=True, capture_output=True, text=True)
        result.update(json.loads(served.stdout.strip().splitlines()[-1]))
        print(json.dumps(result, indent=2))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
