"""The steps after the rows are in: secondary indexes, domain counts, statistics.

They run only when rows were written since the last finished ingest, which the
``ingest_pending`` flag in ``lens_state`` records in the same transaction as the rows.
An ingest killed during these steps therefore redoes them on the next run.
"""

import logging
import sqlite3

from ingest.database import transaction
from laionlens.schema import INDEXES_SQL

log = logging.getLogger("laionlens.ingest")

RECOUNT_DOMAINS = """
UPDATE domains SET image_count = coalesce(
    (SELECT n FROM domain_counts WHERE domain_counts.domain_id = domains.id), 0)
"""


def finish_pending(conn: sqlite3.Connection) -> bool:
    """Build indexes, recount domains and analyse if rows were added; True if it did."""
    pending = conn.execute("SELECT value FROM lens_state WHERE key = 'ingest_pending'").fetchone()
    if not pending or pending[0] != "1":
        return False
    log.info("building indexes")
    conn.executescript(INDEXES_SQL)
    log.info("counting images per domain")
    recount_domains(conn)
    log.info("analysing")
    conn.execute("PRAGMA analysis_limit = 1000")
    conn.execute("ANALYZE")
    return True


def recount_domains(conn: sqlite3.Connection) -> None:
    with transaction(conn):
        conn.execute(
            "CREATE TEMP TABLE domain_counts AS "
            "SELECT domain_id, count(*) AS n FROM images GROUP BY domain_id"
        )
        conn.execute("CREATE INDEX temp.domain_counts_id ON domain_counts(domain_id)")
        conn.execute(RECOUNT_DOMAINS)
        conn.execute("DROP TABLE temp.domain_counts")


def duplicate_urls(conn: sqlite3.Connection) -> int:
    """Rows whose URL also appears on a row with a smaller id.

    Only rows whose ``url_hash`` repeats can be duplicates; finding those reads just
    the url_hash index, and only their URLs are compared.
    """
    return conn.execute(
        "SELECT count(*) - count(DISTINCT url) FROM images WHERE url_hash IN "
        "(SELECT url_hash FROM images GROUP BY url_hash HAVING count(*) > 1)"
    ).fetchone()[0]


def clear_pending(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE lens_state SET value = '0' WHERE key = 'ingest_pending'")
