"""Remove rows everywhere at once: images, full-text index, domain counts, removal records.

A removal runs in one SQLite transaction, so a failure at any step leaves the database
as it was. The rows to remove are first collected into a temporary table from a URL
list, a list of LAION ``hash`` values, or the complement of a set of Re-LAION shards.
Every later step joins against that table in SQL, so keeping millions of URLs never
builds a Python set. Removed URLs are recorded in ``removals`` by their SHA-256, and
listed LAION hashes in ``removed_hashes``; the ingest checks both before inserting a
row. Removed ids go to ``removed_rows`` so that
their row pages can return 410 Gone.
"""

import logging
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ingest.removal_index import VectorIndexRewriteError, remove_from_vector_index
from ingest.removal_lists import (
    KeepShardError,
    RemovalError,
    RemovalListError,
    read_hash_list,
    read_shard_urls,
    read_url_list,
    require_list_file,
    shard_files,
)
from laionlens.hashing import normalized_url, removal_sha256, url_hash, url_sha256
from laionlens.progress import progress_bar
from laionlens.schema import create_tables, upgrade
from laionlens.text import fts_text

log = logging.getLogger("laionlens.remove")

__all__ = [
    "DatabaseLockedError", "KeepShardError", "NotLensDatabaseError", "RemovalError", "RemovalListError", "RemovalReport",
    "VectorIndexRewriteError", "keep_only", "remove_by_hashes", "remove_by_urls",
    "remove_from_vector_index",
]

BATCH_ROWS = 10_000
# Seconds to wait for another writer (an ingest, an embedding run) to release the database.
LOCK_TIMEOUT_S = 30
# Page cache of the temporary tables, in KiB. Keep-only loads every URL to keep (12
# million is about 1.3 GB of text) into a temporary b-tree, which thrashes the default
# 2 MiB cache. SQLite allocates the cache only as pages are used.
TEMP_CACHE_KIB = 512 * 1024
# Tables that hold an ``image_id`` but must keep it after the row is gone.
KEEP_TABLES = frozenset({"removed_rows"})
# Stored results that embed copies of training rows (URL, caption), as
# (table, JSON column, path of the list of rows). Each copied row has an "id".
STORED_ROW_LISTS = (("generations", "result", "$.neighbours"),)


class NotLensDatabaseError(RemovalError):
    """The database file is missing, is not SQLite or has no ``images`` table."""


class DatabaseLockedError(RemovalError):
    """Another process kept the database locked for writing past the timeout."""


@dataclass
class RemovalReport:
    """The outcome of a removal. ``not_found`` is None for keep-only, which lists no targets."""

    mode: str
    listed: int
    removed: int
    not_found: int | None
    recorded: int
    recorded_hashes: int = 0
    by_domain: list[tuple[str, int]] = field(default_factory=list)
    cleaned_tables: dict[str, int] = field(default_factory=dict)
    removed_ids: list[int] = field(default_factory=list, repr=False)
    dry_run: bool = False

    def summary_lines(self) -> list[str]:
        """Return the human-readable summary printed by ``laionlens remove``."""
        verb = "would remove" if self.dry_run else "removed"
        lines = [f"{verb} {self.removed:,} rows ({self.mode}, {self.listed:,} entries listed)"]
        if self.not_found is not None:
            lines.append(f"not in the database: {self.not_found:,} listed entries")
        recorded = "would record" if self.dry_run else "recorded"
        lines.append(f"{recorded} in removals: {self.recorded:,} new URL hashes")
        if self.recorded_hashes:
            lines.append(f"{recorded} in removed_hashes: {self.recorded_hashes:,} new LAION hashes")
        if self.by_domain:
            lines.append(f"top domains of the {'listed' if self.dry_run else 'removed'} rows:")
        for domain, count in self.by_domain:
            lines.append(f"  {count:>10,}  {domain}")
        for table, count in sorted(self.cleaned_tables.items()):
            lines.append(f"{'would also delete' if self.dry_run else 'also deleted'} from {table}: {count:,} rows")
        return lines


def remove_by_urls(db_path, urls_file, reason, *, dry_run=False, progress=False) -> RemovalReport:
    """Remove the rows whose URL is listed in ``urls_file`` and record every listed URL."""
    require_list_file(urls_file)
    with _transaction(db_path, dry_run) as conn:
        conn.execute("CREATE TEMP TABLE listed (key TEXT PRIMARY KEY) WITHOUT ROWID")
        listed = _load(conn, read_url_list(urls_file), progress, "URLs")
        _require_entries(listed, urls_file)
        # url_hash IN (...) lets SQLite use the url_hash index, and comparing the
        # normalised URLs makes it exact while matching any case of scheme and host.
        _collect(conn, "url_hash IN (SELECT url_hash(key) FROM temp.listed) "
                       "AND normalized_url(url) IN (SELECT normalized_url(key) FROM temp.listed)")
        matched = conn.execute(
            "SELECT count(DISTINCT normalized_url(i.url)) FROM temp.doomed d CROSS JOIN images i ON i.id = d.id"
        ).fetchone()[0]
        recorded = _record_listed_urls(conn, reason)
        report = _apply(conn, "URL list", listed, listed - matched, reason, dry_run)
        report.recorded += recorded
    return _finish(report)


def remove_by_hashes(db_path, hashes_file, reason, *, dry_run=False, progress=False) -> RemovalReport:
    """Remove the rows whose LAION ``hash`` is listed in ``hashes_file``.

    Every listed hash is recorded in ``removed_hashes``, present or not, so a later
    ingest skips the rows that carry it.
    """
    require_list_file(hashes_file)
    with _transaction(db_path, dry_run) as conn:
        conn.execute("CREATE TEMP TABLE listed (key INTEGER PRIMARY KEY)")
        listed = _load(conn, read_hash_list(hashes_file), progress, "hashes")
        _require_entries(listed, hashes_file)
        _collect(conn, "hash IN (SELECT key FROM temp.listed)")
        matched = conn.execute(
            "SELECT count(DISTINCT i.hash) FROM temp.doomed d CROSS JOIN images i ON i.id = d.id"
        ).fetchone()[0]
        recorded = _record_listed_hashes(conn, reason)
        report = _apply(conn, "hash list", listed, listed - matched, reason, dry_run)
        report.recorded_hashes = recorded
    return _finish(report)


def keep_only(db_path, shards, reason, *, dry_run=False, progress=False) -> RemovalReport:
    """Remove every row whose URL does not appear in the Re-LAION ``shards``."""
    files = shard_files(shards)
    with _transaction(db_path, dry_run) as conn:
        conn.execute("CREATE TEMP TABLE listed (key TEXT PRIMARY KEY) WITHOUT ROWID")
        for path in files:
            log.info("reading URLs to keep from %s", path)
            urls = (url for batch in read_shard_urls(path) for url in batch)
            kept = _load(conn, urls, progress, "URLs", desc=path.name)
        if kept == 0:
            raise KeepShardError(
                "The Re-LAION shards contain no URLs; keeping only them would remove every row."
            )
        # NOTE: keep-only compares exact URLs, so a kept URL stored with other scheme or
        # host case is removed. Normalising here would hash every row in Python.
        _collect(conn, "url NOT IN (SELECT key FROM temp.listed)")
        report = _apply(conn, "keep-only", kept, None, reason, dry_run)
    return _finish(report)


class _transaction:
    """Open ``db_path`` and run the body in one immediate transaction, rolled back on error."""

    def __init__(self, db_path, dry_run: bool):
        self.db_path = Path(db_path)
        self.dry_run = dry_run

    def __enter__(self) -> sqlite3.Connection:
        self.conn = open_lens_database(self.db_path)
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            self.conn.close()
            raise DatabaseLockedError(
                f"{str(self.db_path)!r} is locked by another writer ({error}), for example a "
                "running ingest. Run the removal again when it has finished."
            ) from error
        return self.conn

    def __exit__(self, exc_type, exc, traceback):
        try:
            if exc_type is None and not self.dry_run:
                self.conn.execute("COMMIT")
            else:
                self.conn.execute("ROLLBACK")
                if exc_type is not None:
                    log.info("rolled back the removal from %s; the database is unchanged", self.db_path)
        finally:
            self.conn.close()
        return False


def open_lens_database(db_path: Path) -> sqlite3.Connection:
    """Open a LAION Lens database with the SQL functions removals need, in autocommit mode."""
    if not db_path.is_file():
        raise NotLensDatabaseError(f"Database {str(db_path)!r} not found.")
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=LOCK_TIMEOUT_S)
    conn.create_function("fts_text", 1, fts_text, deterministic=True)
    conn.create_function("url_sha256", 1, url_sha256, deterministic=True)
    conn.create_function("url_hash", 1, url_hash, deterministic=True)
    conn.create_function("normalized_url", 1, normalized_url, deterministic=True)
    conn.create_function("removal_sha256", 1, removal_sha256, deterministic=True)
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        conn.execute(f"PRAGMA temp.cache_size = -{TEMP_CACHE_KIB}")
    except sqlite3.DatabaseError as error:
        conn.close()
        raise NotLensDatabaseError(f"{str(db_path)!r} is not an SQLite database: {error}") from error
    missing = {"images", "images_fts", "domains", "removals", "removed_rows", "removed_hashes"} - tables
    if "images" in missing:
        conn.close()
        raise NotLensDatabaseError(
            f"{str(db_path)!r} has no images table. Build it with: laionlens ingest SOURCE --db {db_path}"
        )
    if missing:
        # Databases built before removed_rows existed get the missing tables.
        create_tables(conn)
    upgrade(conn)
    return conn


def _load(conn, values: Iterable, progress: bool, unit: str, desc: str = "reading") -> int:
    """Insert ``values`` into temp.listed in batches; return how many distinct values it holds."""
    batch: list[tuple] = []
    with progress_bar(desc=desc, unit=f" {unit}", enabled=progress, unit_scale=True) as bar:
        for value in values:
            batch.append((value,))
            if len(batch) >= BATCH_ROWS:
                conn.executemany("INSERT OR IGNORE INTO temp.listed(key) VALUES (?)", batch)
                bar.update(len(batch))
                batch.clear()
        conn.executemany("INSERT OR IGNORE INTO temp.listed(key) VALUES (?)", batch)
        bar.update(len(batch))
    return conn.execute("SELECT count(*) FROM temp.listed").fetchone()[0]


def _require_entries(count: int, path) -> None:
    if count == 0:
        raise RemovalListError(f"List file {str(path)!r} contains no entries; nothing to remove.")


def _collect(conn, where: str) -> None:
    """Fill temp.doomed with the id, URL hash and domain of each row matching ``where``."""
    conn.execute(
        "CREATE TEMP TABLE doomed (id INTEGER PRIMARY KEY, url_sha256 TEXT NOT NULL, domain_id INTEGER)"
    )
    conn.execute(
        f"INSERT INTO temp.doomed SELECT id, removal_sha256(url), domain_id FROM images WHERE {where}"
    )


def _record_listed_urls(conn, reason: str) -> int:
    """Record every listed URL, present or not, so a later ingest skips it too."""
    before = conn.total_changes
    conn.execute(
        "INSERT OR IGNORE INTO removals(url_sha256, reason, removed_at) "
        "SELECT removal_sha256(key), ?, ? FROM temp.listed",
        (reason, _now()),
    )
    return conn.total_changes - before


def _record_listed_hashes(conn, reason: str) -> int:
    """Record every listed LAION hash, present or not, so a later ingest skips it too."""
    before = conn.total_changes
    conn.execute(
        "INSERT OR IGNORE INTO removed_hashes(hash, reason, removed_at) SELECT key, ?, ? FROM temp.listed",
        (reason, _now()),
    )
    return conn.total_changes - before


def _apply(conn, mode, listed, not_found, reason, dry_run) -> RemovalReport:
    """Delete the rows in temp.doomed from every table and record them; return the report."""
    now = _now()
    report = RemovalReport(mode=mode, listed=listed, removed=0, not_found=not_found, recorded=0,
                           dry_run=dry_run)
    report.removed = conn.execute("SELECT count(*) FROM temp.doomed").fetchone()[0]
    report.by_domain = _top_domains(conn)
    report.recorded = _record_removed_rows(conn, reason, now)
    _delete_from_fts(conn)
    _update_domain_counts(conn)
    report.cleaned_tables = _delete_from_id_tables(conn)
    report.cleaned_tables.update(_delete_from_stored_rows(conn))
    conn.execute("DELETE FROM images WHERE id IN (SELECT id FROM temp.doomed)")
    report.removed_ids = [row[0] for row in conn.execute("SELECT id FROM temp.doomed")]
    return report


def _top_domains(conn, limit: int = 5) -> list[tuple[str, int]]:
    rows = conn.execute(
        "SELECT coalesce(domains.domain, '(no domain)'), count(*) AS n FROM temp.doomed d "
        "LEFT JOIN domains ON domains.id = d.domain_id "
        "GROUP BY d.domain_id ORDER BY n DESC, 1 LIMIT ?",
        (limit,),
    )
    return [(domain, count) for domain, count in rows]


def _record_removed_rows(conn, reason: str, now: str) -> int:
    """Record the removed rows by URL hash and by id; return the new ``removals`` rows."""
    before = conn.total_changes
    conn.execute(
        "INSERT OR IGNORE INTO removals(url_sha256, reason, removed_at) "
        "SELECT url_sha256, ?, ? FROM temp.doomed",
        (reason, now),
    )
    recorded = conn.total_changes - before
    conn.execute(
        "INSERT OR REPLACE INTO removed_rows(image_id, url_sha256, reason, removed_at) "
        "SELECT id, url_sha256, ?, ? FROM temp.doomed",
        (reason, now),
    )
    return recorded


def _delete_from_fts(conn) -> None:
    # The contentless index can only forget a row given the exact text that was
    # indexed. Only ids present in the index are deleted, because a 'delete' for a
    # rowid that was never indexed would corrupt the index's document totals.
    # CROSS JOIN keeps temp.doomed as the outer loop. The planner has no statistics
    # for temporary tables and would otherwise scan all of images.
    conn.execute(
        "INSERT INTO images_fts(images_fts, rowid, caption) "
        "SELECT 'delete', i.id, fts_text(i.caption) FROM temp.doomed d CROSS JOIN images i ON i.id = d.id "
        "WHERE EXISTS (SELECT 1 FROM images_fts_docsize f WHERE f.id = d.id)"
    )


def _update_domain_counts(conn) -> None:
    conn.execute(
        "CREATE TEMP TABLE doomed_domains AS "
        "SELECT domain_id, count(*) AS n FROM temp.doomed WHERE domain_id IS NOT NULL GROUP BY domain_id"
    )
    conn.execute(
        "UPDATE domains SET image_count = image_count - "
        "(SELECT n FROM temp.doomed_domains dd WHERE dd.domain_id = domains.id) "
        "WHERE id IN (SELECT domain_id FROM temp.doomed_domains)"
    )


def image_id_tables(conn) -> list[tuple[str, str]]:
    """Return (table, column) for each table other than ``images`` that refers to image ids.

    A table qualifies when it has a column named ``image_id`` or a foreign key to
    ``images``. Tables that other features add later, such as embedding status, are
    found this way without a list to maintain.
    """
    found = []
    tables = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "AND name NOT LIKE 'images_fts%' AND name != 'images'"
    ).fetchall()
    for (table,) in tables:
        if table in KEEP_TABLES:
            continue
        columns = {row[1] for row in conn.execute("SELECT * FROM pragma_table_info(?)", (table,))}
        foreign = {row[3] for row in conn.execute("SELECT * FROM pragma_foreign_key_list(?)", (table,))
                   if row[2] == "images"}
        for column in sorted(foreign | ({"image_id"} & columns)):
            found.append((table, column))
    return found


def _delete_from_id_tables(conn) -> dict[str, int]:
    cleaned = {}
    for table, column in image_id_tables(conn):
        cursor = conn.execute(
            f"DELETE FROM {quote_identifier(table)} WHERE {quote_identifier(column)} IN (SELECT id FROM temp.doomed)"
        )
        if cursor.rowcount:
            cleaned[table] = cleaned.get(table, 0) + cursor.rowcount
    return cleaned


def stored_row_lists(conn) -> list[tuple[str, str, str]]:
    """Return the entries of STORED_ROW_LISTS whose table and column exist in ``conn``."""
    present = []
    for table, column, path in STORED_ROW_LISTS:
        columns = {row[1] for row in conn.execute("SELECT * FROM pragma_table_info(?)", (table,))}
        if column in columns:
            present.append((table, column, path))
    return present


def _delete_from_stored_rows(conn) -> dict[str, int]:
    """Drop the removed rows from stored comparison results, so no page shows their URL."""
    cleaned = {}
    for table, column, path in stored_row_lists(conn):
        rows = stored_rows_sql(table, column)
        cursor = conn.execute(
            f"UPDATE {quote_identifier(table)} SET {quote_identifier(column)} = json_set("
            f"{quote_identifier(column)}, :path, (SELECT json_group_array(json(item.value)) "
            f"FROM {rows} WHERE json_extract(item.value, '$.id') NOT IN (SELECT id FROM temp.doomed))) "
            f"WHERE json_valid({quote_identifier(column)}) AND EXISTS (SELECT 1 FROM {rows} "
            f"WHERE json_extract(item.value, '$.id') IN (SELECT id FROM temp.doomed))",
            {"path": path},
        )
        if cursor.rowcount:
            cleaned[f"{table}.{column}"] = cursor.rowcount
    return cleaned


def stored_rows_sql(table: str, column: str) -> str:
    """Return a json_each() table of the row list at ``:path``; invalid JSON yields no rows."""
    value = f"{quote_identifier(table)}.{quote_identifier(column)}"
    return f"json_each(CASE WHEN json_valid({value}) THEN {value} ELSE '{{}}' END, :path) AS item"


def quote_identifier(name: str) -> str:
    """Return ``name`` as a double-quoted SQLite identifier."""
    return '"' + name.replace('"', '""') + '"'


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

def _finish(report: RemovalReport) -> RemovalReport:
    # The command prints the whole summary, so the log gets only its first line.
    log.info("%s", report.summary_lines()[0])
    return report
