"""The ingest from end to end: sources -> read -> normalise -> write -> index -> report.

Follow one row: :mod:`ingest.sources` finds or downloads its file,
:mod:`ingest.read` checks the file and streams the row in a record batch,
:mod:`ingest.normalise` converts its values and computes its domain,
:mod:`ingest.write` inserts it with its full-text entry in one transaction per batch,
:mod:`ingest.index` builds the secondary indexes once all rows are in, and
:mod:`ingest.report` records what happened.
"""

import datetime
import logging
import os
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from tqdm import tqdm

from ingest import index
from ingest.database import bulk_connection, is_locked, locked_error, transaction
from ingest.normalise import Removed, normalise
from ingest.prefetch import prefetch
from ingest.read import ParquetSource, iter_batches, open_source
from ingest.report import IngestReport
from ingest.sources import local_files
from ingest.write import DomainIds, prepare, register_file, write
from laionlens.progress import progress_bar

log = logging.getLogger("laionlens.ingest")

# Rows per transaction. Larger batches amortise commits, smaller ones lose less work
# to a kill and hold less memory (about 500 MiB RSS at 50,000 rows, in bench runs).
DEFAULT_BATCH_ROWS = 50_000
BATCH_ROWS_VARIABLE = "LAIONLENS_INGEST_BATCH_ROWS"


@dataclass
class Run:
    """State shared by the files of one ingest: connection, report, removals, domain ids."""

    conn: sqlite3.Connection
    report: IngestReport
    batch_rows: int
    removed: Removed
    domain_ids: DomainIds
    bar: tqdm | None = None


def ingest_paths(
    sources: Sequence[str | Path],
    db_path: str | Path,
    *,
    progress: bool = False,
    batch_rows: int | None = None,
) -> IngestReport:
    """Ingest parquet files, folders of them or http(s) URLs into the database at ``db_path``.

    Every file is checked before the database is opened, so bad input leaves it as it
    was. Files already ingested (same fingerprint) are skipped; a file cut short by a
    crash is resumed where its last committed batch ended.
    """
    report = IngestReport([str(s) for s in sources], now())
    started = time.monotonic()
    batch_rows = batch_rows or int(os.environ.get(BATCH_ROWS_VARIABLE, DEFAULT_BATCH_ROWS))
    with local_files(sources, progress) as files:
        parquet_sources = [open_source(path, origin) for path, origin in files]
        try:
            with bulk_connection(db_path) as conn:
                ingest_all(conn, parquet_sources, report, batch_rows, progress)
                finish(conn, report, started)
        except sqlite3.OperationalError as error:
            if is_locked(error):
                raise locked_error(db_path, error) from error
            raise
    log.info("ingest into %s finished: %d rows written", db_path, report.rows_written)
    return report


def ingest_all(
    conn: sqlite3.Connection, sources: list[ParquetSource], report: IngestReport, batch_rows: int,
    progress: bool,
) -> None:
    """Ingest each of ``sources`` that is not in the database yet, or resume it."""
    # NOTE: the removal hashes are held in memory, about 150 bytes each, so a list
    # of millions of opt-outs costs hundreds of MiB.
    removed = Removed(
        {row[0] for row in conn.execute("SELECT url_sha256 FROM removals")},
        pa.array([row[0] for row in conn.execute("SELECT hash FROM removed_hashes")], pa.int64()),
    )
    run = Run(conn, report, batch_rows, removed, DomainIds(conn))
    plans = [(source, *register_file(conn, source)) for source in sources]
    total = sum(source.num_rows - done for source, _, done, status in plans if status != "done")
    with progress_bar(total=total, unit=" rows", unit_scale=True, desc="ingest", enabled=progress) as bar:
        run.bar = bar
        for source, file_id, rows_done, status in plans:
            if status == "done":
                log.info("%s is already in the database; skipping it", source.origin)
                report.files_already_in.append(source.name)
            else:
                ingest_file(run, source, file_id, rows_done)


def ingest_file(run: Run, source: ParquetSource, file_id: int, rows_done: int) -> None:
    """Stream one file into the database from row ``rows_done`` on."""
    log.info("ingesting %s (%d rows%s)", source.origin, source.num_rows,
             f", resuming at row {rows_done}" if rows_done else "")
    if source.plan.unknown:
        log.warning("%s: columns not stored: %s", source.name, ", ".join(source.plan.unknown))
        run.report.unknown_columns[source.name] = source.plan.unknown
    batches = iter_batches(source, rows_done, run.batch_rows)
    prepared = (
        prepare(normalise(batch, source.plan, first, run.removed), first, run.domain_ids, file_id)
        for first, batch in batches
    )
    for batch in prefetch(prepared):
        write(run.conn, batch, file_id, done=batch.first_row + batch.read >= source.num_rows)
        run.report.count(batch.read, batch.written, batch.skipped)
        run.bar.update(batch.read)
    if source.num_rows == 0:
        with transaction(run.conn):
            run.conn.execute("UPDATE ingest_files SET status = 'done', finished_at = datetime('now') "
                             "WHERE id = ?", (file_id,))
    run.report.files_ingested.append(source.name)
    log.info("finished %s", source.origin)


def finish(conn: sqlite3.Connection, report: IngestReport, started: float) -> None:
    """Build indexes and statistics if rows were added, then save the report."""
    index.finish_pending(conn)
    report.duplicate_urls = index.duplicate_urls(conn)
    report.seconds = time.monotonic() - started
    report.finished_at = now()
    with transaction(conn):
        report.save(conn)
        index.clear_pending(conn)


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
