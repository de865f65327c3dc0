"""Removals that outlive the rows: listed LAION hashes stay out of later ingests, and
removed ids are never given to new rows."""

import sqlite3

from ingest.pipeline import ingest_paths
from ingest.remove import remove_by_hashes, remove_by_urls
from tests.removal_fixtures import ROWS, write_shard

OLD_ROWS, NEW_ROWS = ROWS[:3], ROWS[3:]


def query(db_path, sql, parameters=()):
    conn = sqlite3.connect(db_path)
    rows = conn.execute(sql, parameters).fetchall()
    conn.close()
    return rows


def write_lines(path, lines):
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def test_remove_hashes_not_ingested_yet_stay_out(tmp_path):
    db_path = tmp_path / "lens.db"
    ingest_paths([write_shard(tmp_path / "old.parquet", OLD_ROWS)], db_path)
    mug_url, _, mug_hash = NEW_ROWS[0]
    report = remove_by_hashes(db_path, write_lines(tmp_path / "hashes.txt", [mug_hash]), "takedown")
    ingest = ingest_paths([write_shard(tmp_path / "new.parquet", NEW_ROWS)], db_path)
    assert (report.removed, report.not_found, report.recorded_hashes) == (0, 1, 1)
    assert query(db_path, "SELECT hash, reason FROM removed_hashes") == [(mug_hash, "takedown")]
    assert query(db_path, "SELECT count(*) FROM images WHERE url = ?", (mug_url,)) == [(0,)]
    assert ingest.skipped == {"removed": 1}
    assert ingest.rows_written == len(NEW_ROWS) - 1


def test_remove_hashes_present_rows_are_recorded_too(tmp_path):
    db_path = tmp_path / "lens.db"
    shard = write_shard(tmp_path / "all.parquet")
    ingest_paths([shard], db_path)
    cat_hash = ROWS[0][2]
    remove_by_hashes(db_path, write_lines(tmp_path / "hashes.txt", [cat_hash]), "opt-out")
    again = ingest_paths([write_shard(tmp_path / "copy.parquet", ROWS[:2])], tmp_path / "lens.db")
    assert query(db_path, "SELECT hash FROM removed_hashes") == [(cat_hash,)]
    assert again.skipped == {"removed": 1}


def test_remove_hashes_dry_run_records_nothing(tmp_path):
    db_path = tmp_path / "lens.db"
    ingest_paths([write_shard(tmp_path / "old.parquet", OLD_ROWS)], db_path)
    remove_by_hashes(db_path, write_lines(tmp_path / "hashes.txt", [NEW_ROWS[0][2]]), "x", dry_run=True)
    assert query(db_path, "SELECT count(*) FROM removed_hashes") == [(0,)]


def test_ingest_never_reuses_removed_ids(tmp_path):
    db_path = tmp_path / "lens.db"
    ingest_paths([write_shard(tmp_path / "old.parquet", OLD_ROWS)], db_path)
    (last_id, last_url), = query(db_path, "SELECT id, url FROM images ORDER BY id DESC LIMIT 1")
    remove_by_urls(db_path, write_lines(tmp_path / "urls.txt", [last_url]), "takedown")
    ingest_paths([write_shard(tmp_path / "new.parquet", NEW_ROWS)], db_path)
    new_ids = [row[0] for row in query(db_path, "SELECT id FROM images WHERE source_id = 2 ORDER BY id")]
    assert new_ids == list(range(last_id + 1, last_id + 1 + len(NEW_ROWS)))
    assert query(db_path, "SELECT image_id FROM removed_rows") == [(last_id,)]


def test_remove_hashes_keep_rows_without_hash(tmp_path):
    db_path = tmp_path / "lens.db"
    ingest_paths([write_shard(tmp_path / "old.parquet", OLD_ROWS)], db_path)
    remove_by_hashes(db_path, write_lines(tmp_path / "hashes.txt", [NEW_ROWS[0][2]]), "takedown")
    no_hash = [(url, caption, None) for url, caption, _ in NEW_ROWS]
    report = ingest_paths([write_shard(tmp_path / "new.parquet", no_hash)], db_path)
    assert report.rows_written == len(NEW_ROWS)
    assert report.skipped == {}
