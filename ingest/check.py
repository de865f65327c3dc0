"""Consistency checks of a LAION Lens database, each naming exactly what is wrong.

Every check is a function that takes an open connection and returns a list of
problems, one sentence each with the ids or names involved. An empty list means that
the check passed. :func:`check_database` runs them all in one read transaction.
"""

import logging
import random
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ingest.remove import image_id_tables, quote_identifier, stored_row_lists, stored_rows_sql
from laionlens.hashing import normalized_url, url_sha256
from laionlens.text import fts_text, literal_query

log = logging.getLogger("laionlens.check")

# Number of ids a problem lists before it ends with "and N more".
SHOW = 10
# Words of a caption used to look it up in the sample check.
SAMPLE_WORDS = 8


class CheckError(Exception):
    """The database cannot be checked at all (missing file, not a LAION Lens database)."""


@dataclass
class CheckResult:
    """The outcome of one check."""

    name: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_database(db_path, *, full=False, sample=200, seed=None) -> list[CheckResult]:
    """Run every check on ``db_path`` and return one result per check.

    ``full`` runs ``PRAGMA integrity_check`` instead of the faster ``quick_check``;
    ``sample`` is how many random captions are looked up through the FTS index.
    """
    conn = open_for_check(Path(db_path))
    try:
        conn.execute("BEGIN")
        results = []
        for name, check in checks(full, sample, seed):
            log.debug("checking %s", name)
            results.append(CheckResult(name, _run_check(conn, check)))
        conn.execute("ROLLBACK")
    finally:
        conn.close()
    return results


def _run_check(conn, check) -> list[str]:
    try:
        return check(conn)
    except sqlite3.DatabaseError as error:
        # A damaged file can make the query itself fail; that is a finding, not a crash.
        return [f"SQLite error while checking: {error}"]


def checks(full: bool, sample: int, seed) -> list[tuple[str, Callable]]:
    """Return the (name, function) pairs that :func:`check_database` runs, in order."""
    return [
        ("sqlite integrity", lambda conn: check_integrity(conn, full)),
        ("fts5 integrity", check_fts_integrity),
        ("fts rows match captions", check_fts_rows),
        ("captions findable (sample)", lambda conn: check_fts_sample(conn, sample, seed)),
        ("domain counts", check_domain_counts),
        ("no removed rows present", check_removed_absent),
        ("ingest file progress", check_ingest_files),
        ("schema version", check_schema_version),
        ("image ids of other tables", check_image_id_tables),
        ("stored results without removed rows", check_stored_rows),
    ]


def open_for_check(db_path: Path) -> sqlite3.Connection:
    """Open ``db_path`` with the SQL functions the checks use; raise CheckError if unusable."""
    if not db_path.is_file():
        raise CheckError(f"Database {str(db_path)!r} not found.")
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=30)
    conn.create_function("url_sha256", 1, url_sha256, deterministic=True)
    conn.create_function("normalized_url", 1, normalized_url, deterministic=True)
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as error:
        conn.close()
        raise CheckError(f"{str(db_path)!r} is not an SQLite database: {error}") from error
    if not {"images", "images_fts", "domains"} <= tables:
        conn.close()
        raise CheckError(
            f"{str(db_path)!r} is not a LAION Lens database (no images, images_fts or domains table)."
        )
    return conn


def check_integrity(conn, full: bool) -> list[str]:
    pragma = "integrity_check" if full else "quick_check"
    messages = [row[0] for row in conn.execute(f"PRAGMA {pragma}")]
    return [] if messages == ["ok"] else [f"PRAGMA {pragma}: {message}" for message in messages]


def check_fts_integrity(conn) -> list[str]:
    try:
        conn.execute("INSERT INTO images_fts(images_fts) VALUES ('integrity-check')")
    except sqlite3.DatabaseError as error:
        return [f"images_fts failed FTS5's integrity-check: {error}. Rebuild the index."]
    return []


def check_fts_rows(conn) -> list[str]:
    """Compare the ids in the FTS index (its docsize table) with the ids of captioned rows."""
    # images_fts_docsize has one row per indexed document, also for a contentless
    # table, and FTS5's 'delete' command removes it.
    # NOT EXISTS probes by rowid; EXCEPT would sort every id of both tables first.
    missing = _ids(conn, "SELECT id FROM images i WHERE caption IS NOT NULL AND NOT EXISTS "
                         "(SELECT 1 FROM images_fts_docsize f WHERE f.id = i.id)")
    orphans = _ids(conn, "SELECT id FROM images_fts_docsize f WHERE NOT EXISTS "
                         "(SELECT 1 FROM images i WHERE i.id = f.id AND i.caption IS NOT NULL)")
    problems = []
    if missing:
        problems.append(f"{len(missing):,} captioned rows are missing from images_fts: "
                        f"ids {_listing(missing)}")
    if orphans:
        problems.append(f"images_fts indexes {len(orphans):,} ids that are not captioned rows "
                        f"of images: ids {_listing(orphans)}")
    return problems


def check_fts_sample(conn, sample: int, seed) -> list[str]:
    """Look up random indexed captions by their own words; each must find its row."""
    lost = []
    for image_id, caption in _sample_captions(conn, sample, random.Random(seed)):
        query = _caption_query(caption)
        if query is None:
            continue
        found = conn.execute(
            "SELECT 1 FROM images_fts WHERE images_fts MATCH ? AND rowid = ?", (query, image_id)
        ).fetchone()
        if found is None:
            lost.append(image_id)
    if not lost:
        return []
    return [f"{len(lost):,} sampled captions are not found by their own words: ids {_listing(lost)}"]


def _sample_captions(conn, sample: int, rng: random.Random) -> list[tuple[int, str]]:
    low, high = conn.execute("SELECT min(id), max(id) FROM images_fts_docsize").fetchone()
    if low is None or sample <= 0:
        return []
    rows = {}
    for _ in range(sample):
        row = conn.execute(
            "SELECT i.id, i.caption FROM images_fts_docsize d JOIN images i ON i.id = d.id "
            "WHERE d.id >= ? AND i.caption IS NOT NULL ORDER BY d.id LIMIT 1",
            (rng.randint(low, high),),
        ).fetchone()
        if row is not None:
            rows[row[0]] = row[1]
    return sorted(rows.items())


def _caption_query(caption: str) -> str | None:
    words = [word for word in (fts_text(caption) or "").split() if any(c.isalnum() for c in word)]
    return literal_query(" ".join(words[:SAMPLE_WORDS])) if words else None


def check_domain_counts(conn) -> list[str]:
    rows = conn.execute(
        "SELECT d.domain, d.image_count, coalesce(c.n, 0) FROM domains d "
        "LEFT JOIN (SELECT domain_id, count(*) AS n FROM images GROUP BY domain_id) c "
        "ON c.domain_id = d.id WHERE d.image_count != coalesce(c.n, 0) ORDER BY d.domain"
    ).fetchall()
    problems = [f"domain {domain!r}: image_count is {stored:,} but images has {actual:,} rows"
                for domain, stored, actual in rows[:SHOW]]
    if len(rows) > SHOW:
        problems.append(f"and {len(rows) - SHOW:,} more domains")
    if rows:
        problems.append(f"{len(rows):,} domains have a wrong image_count. {_domain_count_fix(conn)}")
    dangling = _ids(conn, "SELECT id FROM images WHERE domain_id IS NOT NULL "
                          "AND domain_id NOT IN (SELECT id FROM domains)")
    if dangling:
        problems.append(f"{len(dangling):,} images refer to a missing domains row: ids {_listing(dangling)}")
    return problems


def _domain_count_fix(conn) -> str:
    if _unfinished_files(conn) or _ingest_pending(conn):
        return ("An ingest was interrupted before it recounted domains: rerun laionlens ingest "
                "with the same source to finish it, or run laionlens check --fix.")
    return "Recompute them with laionlens check --fix."


def _unfinished_files(conn) -> list[tuple]:
    return conn.execute(
        "SELECT id, coalesce(path, name), rows_done, rows_total FROM ingest_files "
        "WHERE status != 'done' OR rows_done < rows_total ORDER BY id"
    ).fetchall()


def _ingest_pending(conn) -> bool:
    row = conn.execute("SELECT value FROM lens_state WHERE key = 'ingest_pending'").fetchone()
    return row is not None and row[0] == "1"


def check_ingest_finished(conn) -> list[str]:
    """Report ingest files left unfinished and index steps left pending by an interrupted ingest."""
    problems = [f"interrupted ingest of {path} at {done or 0:,} of {total or 0:,} rows: "
                "rerun laionlens ingest with the same source to finish it"
                for _, path, done, total in _unfinished_files(conn)]
    if _ingest_pending(conn) and not problems:
        problems.append("an ingest stopped before building indexes and domain counts "
                        "(lens_state ingest_pending is 1): rerun laionlens ingest with the same "
                        "source to finish it")
    return problems


def check_schema_version(conn) -> list[str]:
    from laionlens.schema import SCHEMA_VERSION

    row = conn.execute("SELECT value FROM lens_state WHERE key = 'schema_version'").fetchone()
    columns = {column[1] for column in conn.execute("SELECT * FROM pragma_table_info('images')")}
    version = row[0] if row else str(SCHEMA_VERSION)
    if "url_hash" not in columns:
        # Version 1 had no url_hash column, and a database that old may lack the state row.
        version = "1"
    if version == str(SCHEMA_VERSION):
        return []
    message = (f"the database is on schema version {version}, not {SCHEMA_VERSION}: rerun laionlens "
               "ingest or laionlens remove on it, which upgrade it")
    return [message]


def _has_table(conn, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def _has_removed_hashes(conn) -> bool:
    return _has_table(conn, "removed_hashes") and conn.execute("SELECT 1 FROM removed_hashes LIMIT 1").fetchone() is not None


def check_removed_absent(conn) -> list[str]:
    """Find rows of images whose URL hash is in ``removals`` or LAION hash in ``removed_hashes``."""
    if conn.execute("SELECT count(*) FROM removals").fetchone()[0] == 0 and not _has_removed_hashes(conn):
        return []
    # Hashing every URL is the only way to compare with removals, which stores no URLs.
    # Removals hash the normalised URL, and before schema version 3 the URL as listed.
    sql = ("SELECT id FROM images WHERE url_sha256(url) IN (SELECT url_sha256 FROM removals) "
           "OR (normalized_url(url) != url "
           "AND url_sha256(normalized_url(url)) IN (SELECT url_sha256 FROM removals))")
    if _has_table(conn, "removed_hashes"):
        sql += " UNION SELECT id FROM images WHERE hash IN (SELECT hash FROM removed_hashes)"
    present = _ids(conn, sql)
    if not present:
        return []
    message = (f"{len(present):,} removed rows are present in images: ids {_listing(present)}. "
               "Remove them again with laionlens remove.")
    return [message]


def check_ingest_files(conn) -> list[str]:
    # One grouped scan of images, because images has no index on source_id.
    stored_rows = dict(conn.execute("SELECT source_id, count(*) FROM images GROUP BY source_id"))
    rows = conn.execute(
        "SELECT id, name, rows_total, rows_done, status FROM ingest_files ORDER BY id"
    ).fetchall()
    problems = []
    for file_id, name, total, done, status in rows:
        stored = stored_rows.get(file_id, 0)
        label = f"ingest file {file_id} ({name})"
        if total is not None and done > total:
            problems.append(f"{label}: rows_done {done:,} exceeds rows_total {total:,}")
        if status == "done" and total is not None and done != total:
            problems.append(f"{label}: status is done but rows_done {done:,} != rows_total {total:,}")
        if stored > done:
            problems.append(f"{label}: images holds {stored:,} rows from it but rows_done is {done:,}")
    return problems + check_ingest_finished(conn)


def check_image_id_tables(conn) -> list[str]:
    problems = []
    for table, column in image_id_tables(conn):
        orphans = _ids(conn, f"SELECT {quote_identifier(column)} FROM {quote_identifier(table)} "
                             f"WHERE {quote_identifier(column)} NOT IN (SELECT id FROM images)")
        if orphans:
            problems.append(f"{table}.{column} refers to {len(orphans):,} ids missing from images: "
                            f"{_listing(orphans)}")
    return problems


def check_stored_rows(conn) -> list[str]:
    """Find stored comparison results that still show a removed row."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'removed_rows'").fetchone():
        return []
    problems = []
    for table, column, path in stored_row_lists(conn):
        sql = (f"SELECT DISTINCT {quote_identifier(table)}.rowid FROM {quote_identifier(table)}, "
               f"{stored_rows_sql(table, column)} WHERE json_extract(item.value, '$.id') IN "
               "(SELECT image_id FROM removed_rows WHERE image_id NOT IN (SELECT id FROM images))")
        found = _ids_with(conn, sql, {"path": path})
        if found:
            problems.append(f"{table}.{column} of {found.count:,} rows lists removed rows: "
                            f"rowids {_listing(found)}. Run laionlens remove again to drop them.")
    return problems


def fix_domain_counts(db_path) -> int:
    """Recompute ``domains.image_count`` from images; return how many domains changed."""
    conn = open_for_check(Path(db_path))
    try:
        conn.execute("BEGIN IMMEDIATE")
        cursor = conn.execute(
            "UPDATE domains SET image_count = (SELECT count(*) FROM images WHERE domain_id = domains.id) "
            "WHERE image_count != (SELECT count(*) FROM images WHERE domain_id = domains.id)"
        )
        conn.execute("COMMIT")
        log.info("recomputed the image_count of %d domains in %s", cursor.rowcount, db_path)
        return cursor.rowcount
    finally:
        conn.close()


@dataclass
class FoundIds:
    """How many ids a query returned, and the first few of them to show."""

    count: int
    first: list[int]

    def __bool__(self) -> bool:
        return self.count > 0

    def __len__(self) -> int:
        return self.count


def _ids(conn, sql: str) -> FoundIds:
    """Run ``sql`` and count its ids, keeping only SHOW of them so a huge result fits in memory."""
    return _ids_with(conn, sql, ())


def _ids_with(conn, sql: str, parameters) -> FoundIds:
    found = FoundIds(0, [])
    for (value,) in conn.execute(sql, parameters):
        found.count += 1
        if len(found.first) < SHOW:
            found.first.append(value)
    return found


def _listing(ids: FoundIds | list[int]) -> str:
    if isinstance(ids, list):
        ids = FoundIds(len(ids), sorted(ids)[:SHOW])
    shown = ", ".join(str(value) for value in sorted(ids.first))
    return shown if ids.count <= SHOW else f"{shown} and {ids.count - SHOW:,} more"
