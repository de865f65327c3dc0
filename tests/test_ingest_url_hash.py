"""``images.url_hash``: its values, its index, lookups through it and the upgrade of
databases built before it existed."""

import io
import sqlite3

import pytest

from ingest.pipeline import ingest_paths
from ingest.remove import remove_by_urls
from laionlens.hashing import url_hash, url_hashes
from laionlens.progress import LOG_INTERVAL_S, progress_bar
from laionlens.schema import SCHEMA_VERSION
from tests.removal_fixtures import ROWS, build_database, write_shard

URLS = [row[0] for row in ROWS]


def query(db_path, sql, parameters=()):
    conn = sqlite3.connect(db_path)
    rows = conn.execute(sql, parameters).fetchall()
    conn.close()
    return rows


@pytest.mark.parametrize("url", ["https://example.org/cat.jpg", "", "https://img.example.jp/桜.jpg"])
def test_url_hash_is_a_signed_int64(url):
    assert -(2**63) <= url_hash(url) < 2**63


def test_url_hashes_match_url_hash_and_keep_none():
    assert url_hashes([*URLS, None]) == [*map(url_hash, URLS), None]


def test_url_hash_differs_between_urls():
    assert len(set(url_hashes(URLS))) == len(URLS)


def test_ingest_stores_url_hash(tmp_path):
    db_path = build_database(tmp_path)
    rows = query(db_path, "SELECT url, url_hash FROM images")
    assert rows and all(stored == url_hash(url) for url, stored in rows)


def test_ingest_indexes_url_hash_not_url(tmp_path):
    db_path = build_database(tmp_path)
    indexes = {row[0] for row in query(db_path, "SELECT name FROM sqlite_master WHERE type = 'index'")}
    plan = query(db_path, "EXPLAIN QUERY PLAN SELECT id FROM images WHERE url_hash = ? AND url = ?", (1, "x"))
    assert "images_url_hash" in indexes
    assert "images_url" not in indexes
    assert "USING INDEX images_url_hash" in " ".join(row[-1] for row in plan)


def test_ingest_counts_duplicate_urls_by_hash(tmp_path):
    db_path = tmp_path / "lens.db"
    rows = [*ROWS, ROWS[0], ROWS[0], ROWS[1]]
    report = ingest_paths([write_shard(tmp_path / "dups.parquet", rows)], db_path)
    assert report.duplicate_urls == 3


def make_version_1(db_path):
    """Turn ``db_path`` into what schema version 1 built: no url_hash, an index on url."""
    conn = sqlite3.connect(db_path)
    conn.executescript(
        "DROP INDEX images_url_hash; ALTER TABLE images DROP COLUMN url_hash; "
        "CREATE INDEX images_url ON images(url); "
        "UPDATE lens_state SET value = '1' WHERE key = 'schema_version';"
    )
    conn.close()


@pytest.mark.parametrize("command", ["ingest", "remove"])
def test_upgrade_fills_url_hash(tmp_path, command):
    db_path = build_database(tmp_path, ROWS[:4])
    make_version_1(db_path)
    if command == "ingest":
        ingest_paths([write_shard(tmp_path / "new.parquet", ROWS[4:])], db_path)
    else:
        (tmp_path / "urls.txt").write_text(f"{URLS[0]}\n")
        assert remove_by_urls(db_path, tmp_path / "urls.txt", "takedown").removed == 1
    rows = query(db_path, "SELECT url, url_hash FROM images")
    indexes = {row[0] for row in query(db_path, "SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert all(stored == url_hash(url) for url, stored in rows)
    assert "images_url_hash" in indexes
    assert "images_url" not in indexes
    assert query(db_path, "SELECT value FROM lens_state WHERE key = 'schema_version'") == [(str(SCHEMA_VERSION),)]


def test_progress_bar_redraws_rarely_outside_a_terminal():
    # pytest captures stderr, so it is not a terminal here.
    with progress_bar(total=1, file=io.StringIO()) as bar:
        assert bar.mininterval == LOG_INTERVAL_S
