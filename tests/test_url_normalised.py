"""URLs that differ only in the case of their scheme or host, or in a default port,
are one URL for removals (RFC 3986 section 6.2.2.1 and 6.2.3)."""

import hashlib
import sqlite3

import pytest
from click.testing import CliRunner

from ingest.pipeline import ingest_paths
from ingest.remove import remove_by_urls
from laionlens.cli import cli
from laionlens.hashing import normalized_url, url_hash
from tests.removal_fixtures import ROWS, build_database, write_shard

BRAWL = "http://t03.deviantart.net/Ab/Tavern_Brawl_by_velinov.jpg"
SHOUTED = "HTTP://T03.DEVIANTART.NET/Ab/Tavern_Brawl_by_velinov.jpg"


def query(db_path, sql, parameters=()):
    conn = sqlite3.connect(db_path)
    rows = conn.execute(sql, parameters).fetchall()
    conn.close()
    return rows


@pytest.mark.parametrize("url, expected", [
    (SHOUTED, BRAWL),
    ("https://User:Pw@Ex.COM:443/A?B=C#D", "https://User:Pw@ex.com/A?B=C#D"),
    ("http://Ex.com:80", "http://ex.com"),
    ("http://ex.com:8080/A", "http://ex.com:8080/A"),
    ("https://ex.com:80/a", "https://ex.com:80/a"),
    ("http://[::1]:80/X", "http://[::1]/X"),
    ("not a url", "not a url"),
    ("//Ex.com/a", "//Ex.com/a"),
])
def test_normalized_url_table(url, expected):
    assert normalized_url(url) == expected


def test_url_hash_ignores_host_case():
    assert url_hash(SHOUTED) == url_hash(BRAWL)
    assert url_hash(BRAWL.replace("Tavern", "tavern")) != url_hash(BRAWL)


def test_removed_url_blocks_other_case(tmp_path):
    db_path = build_database(tmp_path, [*ROWS, (BRAWL, "Tavern Brawl by velinov", 77)])
    (tmp_path / "urls.txt").write_text(BRAWL + "\n")
    assert remove_by_urls(db_path, tmp_path / "urls.txt", "takedown").removed == 1
    variants = [(SHOUTED, "Tavern Brawl by velinov", 78),
                ("http://T03.deviantart.net:80/Ab/Tavern_Brawl_by_velinov.jpg", "again", 79)]
    report = ingest_paths([write_shard(tmp_path / "again.parquet", variants)], db_path)
    assert report.rows_written == 0
    assert query(db_path, "SELECT count(*) FROM images WHERE caption LIKE '%Tavern%'") == [(0,)]


def test_removed_url_keeps_path_case(tmp_path):
    db_path = build_database(tmp_path)
    (tmp_path / "urls.txt").write_text(BRAWL + "\n")
    remove_by_urls(db_path, tmp_path / "urls.txt", "takedown")
    other_path = BRAWL.replace("Tavern", "TAVERN")
    report = ingest_paths([write_shard(tmp_path / "path.parquet", [(other_path, "x", 1)])], db_path)
    assert report.rows_written == 1


def test_remove_finds_stored_case_variant(tmp_path):
    db_path = build_database(tmp_path, [*ROWS, (SHOUTED, "Tavern Brawl by velinov", 77)])
    (tmp_path / "urls.txt").write_text(BRAWL + "\n")
    report = remove_by_urls(db_path, tmp_path / "urls.txt", "takedown")
    assert report.removed == 1
    assert report.not_found == 0
    assert query(db_path, "SELECT count(*) FROM images WHERE url = ?", (SHOUTED,)) == [(0,)]


def test_upgrade_rehashes_version_2_urls(tmp_path):
    db_path = build_database(tmp_path, [*ROWS, (SHOUTED, "Tavern Brawl by velinov", 77)])
    exact = int.from_bytes(hashlib.blake2b(SHOUTED.encode(), digest_size=8).digest(), "big", signed=True)
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE images SET url_hash = ? WHERE url = ?", (exact, SHOUTED))
    conn.execute("UPDATE lens_state SET value = '2' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    (tmp_path / "urls.txt").write_text(BRAWL + "\n")
    assert remove_by_urls(db_path, tmp_path / "urls.txt", "takedown").removed == 1
    assert query(db_path, "SELECT value FROM lens_state WHERE key = 'schema_version'") == [("3",)]
    rows = query(db_path, "SELECT url, url_hash FROM images")
    assert all(stored == url_hash(url) for url, stored in rows)


def test_check_finds_removed_case_variant(tmp_path):
    db_path = build_database(tmp_path)
    (tmp_path / "urls.txt").write_text(BRAWL + "\n")
    remove_by_urls(db_path, tmp_path / "urls.txt", "takedown")
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO images(id, url, caption) VALUES (999, ?, NULL)", (SHOUTED,))
    conn.commit()
    conn.close()
    result = CliRunner().invoke(cli, ["check", "--db", str(db_path)])
    assert "1 removed rows are present in images: ids 999" in result.output
