"""The ingest on the real LAION sample, through the CLI, from a URL, and when repeated."""

import functools
import http.server
import shutil
import sqlite3
import threading
from collections import Counter

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from ingest.errors import DownloadError
from ingest.pipeline import ingest_paths
from laionlens.cli import cli
from laionlens.domains import domain_of
from laionlens.hashing import url_sha256
from laionlens.text import literal_query
from tests.ingest_files import write_table


@pytest.fixture(scope="module")
def sample_db(sample_path, tmp_path_factory):
    """The real sample ingested once through the CLI; yields (db path, CLI output)."""
    db = tmp_path_factory.mktemp("sample") / "sample.db"
    result = CliRunner().invoke(cli, ["ingest", str(sample_path), "--db", str(db), "--no-progress"])
    assert result.exit_code == 0, result.output
    yield db, result.output


def query(db, sql, params=()):
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(sql, params).fetchall()
        conn.commit()
        return rows
    finally:
        conn.close()


def fts_captions(db, text):
    return [caption for (caption,) in query(
        db, "SELECT caption FROM images WHERE id IN "
        "(SELECT rowid FROM images_fts WHERE images_fts MATCH ?)", (literal_query(text),))]


def test_ingest_sample_keeps_every_row_including_duplicate_url(sample_db):
    db, output = sample_db
    assert query(db, "SELECT count(*), count(DISTINCT url) FROM images") == [(10_000, 9_999)]
    assert query(db, "SELECT rows_read, rows_written, rows_skipped, duplicate_urls FROM ingest_reports") \
        == [(10_000, 10_000, 0, 1)]
    assert "Rows read: 10,000; written: 10,000" in output


def test_ingest_sample_indexes_every_caption(sample_db):
    db, _ = sample_db
    captions = query(db, "SELECT count(*) FROM images WHERE caption IS NOT NULL")[0][0]
    docs = query(db, "SELECT count(*) FROM images_fts_docsize JOIN images USING (id)")[0][0]
    assert docs == captions == 10_000
    query(db, "INSERT INTO images_fts(images_fts, rank) VALUES ('integrity-check', 0)")


def test_ingest_sample_finds_artist_through_fts(sample_db):
    db, _ = sample_db
    assert "Tavern Brawl by velinov" in fts_captions(db, "velinov")


def test_ingest_sample_counts_images_per_domain(sample_db, sample_path):
    db, _ = sample_db
    expected = Counter(domain_of(url) for url in pq.read_table(sample_path)["URL"].to_pylist())
    stored = dict(query(db, "SELECT domain, image_count FROM domains"))
    assert stored["cdn.shopify.com"] == 641
    assert stored == {domain: count for domain, count in expected.items() if domain}


def test_ingest_sample_links_rows_to_their_domain(sample_db):
    db, _ = sample_db
    rows = query(db, "SELECT url, domain FROM images LEFT JOIN domains ON domains.id = domain_id")
    assert all(domain == domain_of(url) for url, domain in rows)


def test_ingest_sample_again_adds_nothing(sample_db, sample_path, tmp_path):
    db, _ = sample_db
    before = query(db, "SELECT count(*), max(id) FROM images") + query(db, "SELECT count(*) FROM domains")
    # The same content under another name is recognised by its fingerprint.
    renamed = shutil.copy(sample_path, tmp_path / "renamed.parquet")
    result = CliRunner().invoke(cli, ["ingest", str(sample_path), str(renamed), "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "written: 0" in result.output
    assert "already in" in result.output
    after = query(db, "SELECT count(*), max(id) FROM images") + query(db, "SELECT count(*) FROM domains")
    assert after == before
    assert query(db, "SELECT count(*) FROM images_fts_docsize") == [(10_000,)]


def test_ingest_skips_removed_urls(tmp_path):
    urls = ["http://a.test/1", "http://a.test/2", "http://b.test/3"]
    path = write_table(tmp_path / "x.parquet", {"URL": urls, "TEXT": ["one", "two", "three"]})
    db = tmp_path / "lens.db"
    ingest_paths([write_table(tmp_path / "other.parquet", {"URL": ["http://c.test/"], "TEXT": ["c"]})], db)
    query(db, "INSERT INTO removals VALUES (?, 'takedown', '2024-08-30')", (url_sha256(urls[1]),))
    report = ingest_paths([path], db)
    assert dict(report.skipped) == {"removed": 1}
    assert query(db, "SELECT url FROM images WHERE source_row IS NOT NULL ORDER BY id")[1:] \
        == [(urls[0],), (urls[2],)]
    assert fts_captions(db, "two") == []
    assert dict(query(db, "SELECT domain, image_count FROM domains")) == {"c.test": 1, "a.test": 1, "b.test": 1}


@pytest.mark.parametrize("mode, after", [("wal", "wal"), ("delete", "delete"), ("truncate", "delete")])
def test_ingest_restores_journal_mode(tmp_path, mode, after):
    db = tmp_path / "lens.db"
    query(db, f"PRAGMA journal_mode = {mode}")
    ingest_paths([write_table(tmp_path / "x.parquet", {"URL": ["http://a.test/1"], "TEXT": ["one"]})], db)
    assert query(db, "PRAGMA journal_mode") == [(after,)]
    assert sorted(path.name for path in tmp_path.glob("lens.db*")) == ["lens.db"]


def test_ingest_folder_reads_every_parquet_file(tmp_path):
    folder = tmp_path / "shards"
    (folder / "nested").mkdir(parents=True)
    write_table(folder / "part-0.parquet", {"URL": ["http://a.test/1"], "TEXT": ["one"]})
    write_table(folder / "nested" / "part-1.parquet", {"URL": ["http://a.test/2"], "TEXT": ["two"]})
    (folder / "README.txt").write_text("not data")
    report = ingest_paths([folder], tmp_path / "lens.db")
    assert report.files_ingested == ["part-1.parquet", "part-0.parquet"]
    assert query(tmp_path / "lens.db", "SELECT count(*) FROM images") == [(2,)]


@pytest.fixture
def http_folder(tmp_path):
    """Serve ``tmp_path / "www"`` over HTTP on 127.0.0.1; yields (folder, base URL)."""
    folder = tmp_path / "www"
    folder.mkdir()
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_ingest_url_downloads_then_ingests(http_folder, tmp_path):
    folder, base = http_folder
    write_table(folder / "part-7.parquet", {"URL": ["http://a.test/1", "http://b.test/2"],
                                           "TEXT": ["one", None]})
    result = CliRunner().invoke(cli, ["ingest", f"{base}/part-7.parquet", "--db", str(tmp_path / "l.db")])
    assert result.exit_code == 0, result.output
    assert query(tmp_path / "l.db", "SELECT url, caption FROM images") == \
        [("http://a.test/1", "one"), ("http://b.test/2", None)]
    assert query(tmp_path / "l.db", "SELECT path, name, rows_done, status FROM ingest_files") == \
        [(f"{base}/part-7.parquet", "part-7.parquet", 2, "done")]


def test_ingest_url_not_found_is_refused(http_folder, tmp_path):
    _, base = http_folder
    with pytest.raises(DownloadError, match="HTTP 404"):
        ingest_paths([f"{base}/missing.parquet"], tmp_path / "l.db")
    result = CliRunner().invoke(cli, ["ingest", f"{base}/missing.parquet", "--db", str(tmp_path / "l.db")])
    assert result.exit_code == 1
    assert f"{base}/missing.parquet: the server returned HTTP 404" in result.output
    assert not (tmp_path / "l.db").exists()


def test_ingest_url_of_known_file_skipped(http_folder, tmp_path):
    folder, base = http_folder
    path = write_table(folder / "p.parquet", {"URL": ["http://a.test/1"], "TEXT": ["one"]})
    ingest_paths([path], tmp_path / "l.db")
    report = ingest_paths([f"{base}/p.parquet"], tmp_path / "l.db")
    assert (report.rows_written, report.files_already_in) == (0, ["p.parquet"])
