"""Ingest 12 million rows end to end: time, peak memory and database size.

The parquet file (aesthetics v2 columns, 12 million unique URLs, the sample's
captions reused) is built from the sample named by LAIONLENS_SAMPLE unless it
exists already. The ingest runs as ``nice laionlens ingest`` in a subprocess; its
log lines give the time of each phase. The database is left in place for the search
benchmarks.

Example: python -m bench.ingest_12m --parquet bench/out/laion-12m.parquet \\
    --db bench/out/laion-12m.db
"""

import datetime
import sqlite3
import subprocess
from pathlib import Path

import click
import pyarrow.parquet as pq

from bench.common import BIN, machine, remove, run_timed
from bench.ingest_data import build_parquet, sample_path_from_env

PHASES = ("ingesting", "finished", "building indexes", "counting images per domain", "analysing",
          "ingest into")


def phase_times(log: str) -> list[tuple[str, float]]:
    """Seconds from each phase's log line to the next one."""
    stamps = []
    for line in log.splitlines():
        if " laionlens.ingest: " not in line:
            continue
        message = line.split(" laionlens.ingest: ", 1)[1]
        phase = next((p for p in PHASES if message.startswith(p)), None)
        if phase:
            stamps.append((phase, datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")))
    return [(name, (stamps[i + 1][1] - at).total_seconds()) for i, (name, at) in enumerate(stamps[:-1])]


def database_facts(db: Path) -> dict:
    conn = sqlite3.connect(db)
    facts = {
        "images": conn.execute("SELECT count(*) FROM images").fetchone()[0],
        "fts documents": conn.execute("SELECT count(*) FROM images_fts_docsize").fetchone()[0],
        "domains": conn.execute("SELECT count(*) FROM domains").fetchone()[0],
    }
    facts["largest parts (GB)"] = {
        name: round(size / 1e9, 2) for name, size in conn.execute(
            "SELECT name, sum(pgsize) AS size FROM dbstat GROUP BY name ORDER BY size DESC LIMIT 6")
    }
    conn.close()
    return facts


@click.command()
@click.option("--rows", default=12_000_000, show_default=True, help="Rows to build if --parquet is missing.")
@click.option("--parquet", type=click.Path(dir_okay=False, path_type=Path),
              default="bench/out/laion-12m.parquet", show_default=True,
              help="Parquet file to ingest (built first if it does not exist).")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
              default="bench/out/laion-12m.db", show_default=True,
              help="Database to create (replaced if it exists).")
def main(rows, parquet, db):
    """Time a fresh ingest of a large parquet file."""
    if not parquet.exists():
        build_parquet(sample_path_from_env(), parquet, rows)
    remove(db)
    command = ["nice", "-n", "5", str(BIN / "laionlens"), "ingest", str(parquet), "--db", str(db),
               "--no-progress"]
    log_path = db.with_suffix(".log")
    with open(log_path, "w") as log:
        wall, cpu, peak = run_timed(command, stdout=log, stderr=subprocess.STDOUT)
    click.echo(f"machine: {machine()}; {pq.ParquetFile(parquet).metadata.num_rows:,} rows "
               f"in {parquet} ({parquet.stat().st_size / 1e9:.2f} GB)")
    click.echo(f"laionlens ingest: {wall:.0f} s wall, {cpu:.0f} s CPU, peak RSS {peak / 2**20:.0f} MiB")
    for name, seconds in phase_times(log_path.read_text()):
        click.echo(f"  {name}: {seconds:.1f} s")
    click.echo(f"database: {db} {db.stat().st_size / 1e9:.2f} GB; {database_facts(db)}")


if __name__ == "__main__":
    main()
