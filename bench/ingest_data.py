"""Build benchmark parquet files of any size from the real 10,000-row sample.

Captions are the sample's, reused in turn. Each URL is the sample's URL with a row
number appended, so every URL is unique but the domains stay those of real LAION
rows. Numeric columns are synthetic but shaped like an aesthetics v2 shard (float64
WIDTH and HEIGHT with a few NaN, a signed int64 hash). Written row group by row group
so that building 12 million rows needs little memory.

Example: python -m bench.ingest_data --rows 200000 --out /tmp/bench-200k.parquet
"""

import os
from pathlib import Path

import click
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

SCHEMA = pa.schema([
    ("URL", pa.string()), ("TEXT", pa.string()), ("WIDTH", pa.float64()), ("HEIGHT", pa.float64()),
    ("similarity", pa.float64()), ("punsafe", pa.float32()), ("pwatermark", pa.float32()),
    ("AESTHETIC_SCORE", pa.float32()), ("hash", pa.int64()), ("__index_level_0__", pa.int64()),
])


def sample_path_from_env() -> Path:
    value = os.environ.get("LAIONLENS_SAMPLE")
    if not value:
        raise click.UsageError("Set LAIONLENS_SAMPLE to the 10,000-row LAION sample parquet file.")
    return Path(value)


def build_parquet(sample: Path, out: Path, rows: int, group_rows: int = 500_000) -> Path:
    """Write ``rows`` synthetic rows to ``out`` (row groups of ``group_rows``) and return it."""
    base = pq.read_table(sample, columns=["URL", "TEXT"])
    urls, captions = base["URL"].combine_chunks(), base["TEXT"].combine_chunks()
    rng = np.random.default_rng(12_000_000)
    out.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(out, SCHEMA, compression="snappy") as writer:
        for start in range(0, rows, group_rows):
            count = min(group_rows, rows - start)
            writer.write_table(make_group(urls, captions, start, count, rng), row_group_size=group_rows)
    return out


def make_group(urls, captions, start: int, count: int, rng) -> pa.Table:
    positions = np.arange(start, start + count)
    picks = pa.array(positions % len(urls))
    suffix = pc.cast(pa.array(positions), pa.string())
    url = pc.binary_join_element_wise(pc.take(urls, picks), suffix, "#")
    width = rng.integers(256, 2048, count).astype(np.float64)
    width[rng.random(count) < 0.01] = np.nan
    height = rng.integers(256, 2048, count).astype(np.float64)
    columns = [
        url, pc.take(captions, picks), width, height,
        rng.uniform(0.28, 0.45, count), rng.beta(1, 20, count).astype(np.float32),
        rng.beta(1, 8, count).astype(np.float32), rng.uniform(6.0, 8.5, count).astype(np.float32),
        rng.integers(-(2**63), 2**63 - 1, count, dtype=np.int64), positions,
    ]
    return pa.Table.from_arrays([pa.array(c) if not isinstance(c, pa.Array) else c for c in columns],
                                schema=SCHEMA)


@click.command()
@click.option("--rows", type=int, required=True, help="Number of rows to write.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Parquet file to write.")
def main(rows, out):
    """Write a benchmark parquet file built from the sample named by LAIONLENS_SAMPLE."""
    build_parquet(sample_path_from_env(), out, rows)
    click.echo(f"wrote {rows:,} rows to {out} ({out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
