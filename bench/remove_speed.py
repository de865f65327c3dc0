"""Time ``laionlens remove`` of a Re-LAION-sized URL list, then ``laionlens check``, on a copy.

Re-LAION-5B dropped 2,236 links, so the default list has 2,236 URLs, all taken from
the database at random: every one of them removes a row, the most work such a list
can cause. With ``--keep-only`` the same URLs are left out of a Re-LAION-style shard
of every other URL of the database instead, and the shard is passed to
``laionlens remove --keep-only``. The source database is copied first and never
opened for writing.

Example: python -m bench.remove_speed --db bench/out/laion-12m.db --work /tmp/remove-bench
"""

import datetime
import random
import shutil
import sqlite3
from pathlib import Path

import click
import pyarrow as pa
import pyarrow.parquet as pq

from bench.common import BIN, machine, remove, run_timed


def pick_urls(db_path: Path, count: int, seed: int) -> list[str]:
    """Return ``count`` distinct URLs of random rows of ``db_path``."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    low, high = conn.execute("SELECT min(id), max(id) FROM images").fetchone()
    rng = random.Random(seed)
    urls: set[str] = set()
    while len(urls) < count:
        row = conn.execute("SELECT url FROM images WHERE id >= ? ORDER BY id LIMIT 1",
                           (rng.randint(low, high),)).fetchone()
        urls.add(row[0])
    conn.close()
    return sorted(urls)


def write_keep_shard(db_path: Path, dropped: set[str], target: Path) -> None:
    """Write every URL of ``db_path`` except ``dropped`` as a lower-case ``url`` parquet column."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    schema = pa.schema([("url", pa.string())])
    with pq.ParquetWriter(target, schema) as writer:
        cursor = conn.execute("SELECT url FROM images")
        while rows := cursor.fetchmany(500_000):
            urls = [url for (url,) in rows if url not in dropped]
            writer.write_table(pa.table({"url": urls}, schema=schema))
    conn.close()


def copy_database(source: Path, target: Path) -> None:
    if Path(f"{source}-journal").exists() or Path(f"{source}-wal").exists():
        raise click.ClickException(f"{source} is being written (a journal exists); wait for it to finish.")
    remove(target)
    shutil.copyfile(source, target)


@click.command()
@click.option("--db", "source", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="LAION Lens database to copy; it is never modified.")
@click.option("--work", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the copy and the URL list (needs the database's size free).")
@click.option("--count", default=2236, show_default=True, help="Number of URLs to remove.")
@click.option("--seed", default=0, show_default=True, help="Random seed of the URL choice.")
@click.option("--keep-only", is_flag=True,
              help="Remove through a shard of the URLs to keep instead of a list of URLs to remove.")
def main(source, work, count, seed, keep_only):
    """Report the wall time, CPU time and peak memory of a removal and of the check after it."""
    work.mkdir(parents=True, exist_ok=True)
    copy = work / "remove-bench.db"
    copy_database(source, copy)
    urls = pick_urls(copy, count, seed)
    if keep_only:
        target = work / "relaion-keep.parquet"
        write_keep_shard(copy, set(urls), target)
        selection = ["--keep-only", str(target)]
    else:
        target = work / "takedown.txt"
        target.write_text("".join(f"{url}\n" for url in urls), encoding="utf-8")
        selection = ["--urls", str(target)]
    conn = sqlite3.connect(copy)
    rows = conn.execute("SELECT count(*) FROM images").fetchone()[0]
    conn.close()
    removal = run_timed(["nice", str(BIN / "laionlens"), "remove", "--db", str(copy), *selection,
                         "--reason", "benchmark"])
    checking = run_timed(["nice", str(BIN / "laionlens"), "check", "--db", str(copy)])
    mode = "keep-only" if keep_only else "URL list"
    click.echo(f"{datetime.date.today()}, {machine()}, {rows:,} rows, {count:,} URLs, {mode}")
    for name, (seconds, cpu, peak) in (("remove", removal), ("check", checking)):
        click.echo(f"{name}: {seconds:.1f} s wall, {cpu:.1f} s CPU, peak RSS {peak / 2**20:.0f} MiB")
    remove(copy)


if __name__ == "__main__":
    main()
