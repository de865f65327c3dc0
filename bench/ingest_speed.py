"""Ingest speed against two references, on the same rows, in one run.

1. Baseline: the sqlite-utils CLI, ``sqlite-utils insert --csv`` of the rows exported
   to CSV, then ``sqlite-utils enable-fts`` on the caption column.
2. Floor: the least work that still gives a searchable table: ``executemany`` of the
   rows into a table without constraints or domains, then an FTS5 ``rebuild`` over it.
3. ``laionlens ingest``: domains, full-text index, secondary indexes, statistics.

The parquet file is built from the sample named by LAIONLENS_SAMPLE (see
bench/ingest_data.py) unless --parquet names one.

Example: python -m bench.ingest_speed --rows 200000 --work /work/bench-data
"""

import sqlite3
import time
from pathlib import Path

import click
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from bench.common import BIN, machine, remove, run_timed
from bench.ingest_data import build_parquet, sample_path_from_env


def baseline(parquet: Path, work: Path) -> float:
    """sqlite-utils insert from CSV plus enable-fts; returns seconds (CSV export excluded)."""
    csv_path, db = work / "speed-baseline.csv", work / "speed-baseline.db"
    remove(db)
    pacsv.write_csv(pq.read_table(parquet), csv_path)
    insert, _ = run_timed([str(BIN / "sqlite-utils"), "insert", str(db), "images", str(csv_path), "--csv"])
    fts, _ = run_timed([str(BIN / "sqlite-utils"), "enable-fts", str(db), "images", "TEXT"])
    csv_path.unlink()
    return insert + fts


def floor(parquet: Path, work: Path) -> float:
    """Bare executemany into a plain table, then an FTS5 rebuild; returns seconds."""
    db = work / "speed-floor.db"
    remove(db)
    started = time.perf_counter()
    table = pq.read_table(parquet)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    columns = ", ".join(f'"{name}"' for name in table.column_names)
    conn.execute(f"CREATE TABLE plain ({columns})")
    conn.execute("CREATE VIRTUAL TABLE plain_fts USING fts5(TEXT, content='plain')")
    conn.execute("BEGIN")
    marks = ", ".join("?" * table.num_columns)
    conn.executemany(f"INSERT INTO plain VALUES ({marks})", zip(*(c.to_pylist() for c in table.columns)))
    conn.execute("INSERT INTO plain_fts(plain_fts) VALUES ('rebuild')")
    conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - started


def lens(parquet: Path, work: Path) -> tuple[float, int]:
    db = work / "speed-lens.db"
    remove(db)
    return run_timed([str(BIN / "laionlens"), "ingest", str(parquet), "--db", str(db), "--no-progress"],
                     capture_output=True)


@click.command()
@click.option("--rows", default=200_000, show_default=True, help="Rows in the benchmark file.")
@click.option("--work", type=click.Path(file_okay=False, path_type=Path), default="/tmp",
              show_default=True, help="Folder for the parquet file and the databases.")
@click.option("--parquet", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Use this parquet file instead of building one.")
def main(rows, work, parquet):
    """Time sqlite-utils, the bare floor and laionlens ingest on the same rows."""
    work.mkdir(parents=True, exist_ok=True)
    if parquet is None:
        parquet = build_parquet(sample_path_from_env(), work / f"speed-{rows}.parquet", rows)
    rows = pq.ParquetFile(parquet).metadata.num_rows
    base = baseline(parquet, work)
    bare = floor(parquet, work)
    ours, peak = lens(parquet, work)
    click.echo(f"machine: {machine()}; rows: {rows:,}; file: {parquet}")
    click.echo(f"sqlite-utils insert --csv + enable-fts: {base:7.2f} s")
    click.echo(f"floor (executemany + FTS5 rebuild):      {bare:7.2f} s")
    click.echo(f"laionlens ingest:                        {ours:7.2f} s, peak RSS {peak / 2**20:.0f} MiB")
    click.echo(f"speed-up over sqlite-utils: {base / ours:.1f}x; laionlens / floor: {ours / bare:.2f}x")


if __name__ == "__main__":
    main()
