"""Ingest speed against two references, on the same rows, in one run.

1. Baseline: the sqlite-utils CLI, ``sqlite-utils insert --csv`` of the rows exported
   to CSV, then ``sqlite-utils enable-fts`` on the caption column.
2. Floor: bench/ingest_floor.py, ``executemany`` of the rows into a table without
   constraints or domains, then an FTS5 ``rebuild`` over it.
3. ``laionlens ingest``: domains, full-text index, secondary indexes, statistics.

The parquet file is built from the sample named by LAIONLENS_SAMPLE (see
bench/ingest_data.py) unless --parquet names one.

Example: python -m bench.ingest_speed --rows 200000 --work bench/out
"""

import subprocess
import sys
from pathlib import Path

import click
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from bench.common import BIN, machine, remove, run_timed
from bench.ingest_data import build_parquet, sample_path_from_env


def baseline(parquet: Path, work: Path) -> tuple[float, float]:
    """sqlite-utils insert from CSV plus enable-fts; returns wall and CPU seconds
    (the CSV export is not timed)."""
    csv_path, db = work / "speed-baseline.csv", work / "speed-baseline.db"
    remove(db)
    pacsv.write_csv(pq.read_table(parquet), csv_path)
    insert = run_timed([str(BIN / "sqlite-utils"), "insert", str(db), "images", str(csv_path), "--csv"])
    fts = run_timed([str(BIN / "sqlite-utils"), "enable-fts", str(db), "images", "TEXT"])
    csv_path.unlink()
    return insert[0] + fts[0], insert[1] + fts[1]


def floor(parquet: Path, work: Path) -> tuple[float, float, int]:
    """Time bench/ingest_floor.py, reading the parquet file included."""
    db = work / "speed-floor.db"
    remove(db)
    return run_timed([sys.executable, "-m", "bench.ingest_floor", str(parquet), str(db)])


def lens(parquet: Path, work: Path) -> tuple[float, float, int]:
    db = work / "speed-lens.db"
    remove(db)
    return run_timed([str(BIN / "laionlens"), "ingest", str(parquet), "--db", str(db), "--no-progress"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@click.command()
@click.option("--rows", default=200_000, show_default=True, help="Rows in the benchmark file.")
@click.option("--work", type=click.Path(file_okay=False, path_type=Path), default="/tmp",
              show_default=True, help="Folder for the parquet file and the databases.")
@click.option("--parquet", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Use this parquet file instead of building one.")
@click.option("--repeat", default=3, show_default=True,
              help="Runs of the floor and of laionlens ingest; the fastest counts.")
def main(rows, work, parquet, repeat):
    """Time sqlite-utils, the bare floor and laionlens ingest on the same rows."""
    work.mkdir(parents=True, exist_ok=True)
    if parquet is None:
        parquet = build_parquet(sample_path_from_env(), work / f"speed-{rows}.parquet", rows)
    rows = pq.ParquetFile(parquet).metadata.num_rows
    base = baseline(parquet, work)
    # Interleaved, so a burst of load from elsewhere hits both alike.
    bare, ours = [], []
    for _ in range(repeat):
        bare.append(floor(parquet, work))
        ours.append(lens(parquet, work))
    bare, ours = min(bare), min(ours)
    click.echo(f"machine: {machine()}; rows: {rows:,}; file: {parquet}")
    click.echo("                                          wall s    CPU s")
    click.echo(f"sqlite-utils insert --csv + enable-fts: {base[0]:8.2f} {base[1]:8.2f}")
    click.echo(f"floor (executemany + FTS5 rebuild):     {bare[0]:8.2f} {bare[1]:8.2f}")
    click.echo(f"laionlens ingest:                       {ours[0]:8.2f} {ours[1]:8.2f}"
               f"   peak RSS {ours[2] / 2**20:.0f} MiB")
    click.echo(f"speed-up over sqlite-utils (wall): {base[0] / ours[0]:.1f}x")
    click.echo(f"laionlens / floor (wall): {ours[0] / bare[0]:.2f}x; (CPU): {ours[1] / bare[1]:.2f}x")


if __name__ == "__main__":
    main()
