"""``laionlens check``: each kind of damage is reported exactly, with exit status 1."""

import sqlite3

import pytest
from click.testing import CliRunner

from laionlens.cli import cli
from laionlens.text import fts_text
from tests.removal_fixtures import ROWS, build_database

CAT_URL, CAT_CAPTION = ROWS[0][0], ROWS[0][1]


def run_check(db_path, *extra):
    return CliRunner().invoke(cli, ["check", "--db", str(db_path), *extra], catch_exceptions=False)


def cat_id(conn):
    return conn.execute("SELECT id FROM images WHERE url = ?", (CAT_URL,)).fetchone()[0]


def break_domain_count(conn):
    conn.execute("UPDATE domains SET image_count = 5 WHERE domain = 'example.org'")
    return "domain 'example.org': image_count is 5 but images has 2 rows"


def drop_fts_entry(conn):
    image_id = cat_id(conn)
    conn.execute("INSERT INTO images_fts(images_fts, rowid, caption) VALUES ('delete', ?, ?)",
                 (image_id, fts_text(CAT_CAPTION)))
    return f"1 captioned rows are missing from images_fts: ids {image_id}"


def delete_row_but_not_fts(conn):
    image_id = cat_id(conn)
    conn.execute("DELETE FROM images WHERE id = ?", (image_id,))
    conn.execute("UPDATE domains SET image_count = image_count - 1 WHERE domain = 'example.org'")
    return f"images_fts indexes 1 ids that are not captioned rows of images: ids {image_id}"


def index_wrong_text(conn):
    # The row stays indexed, under words that are not in its caption.
    image_id = cat_id(conn)
    conn.execute("INSERT INTO images_fts(images_fts, rowid, caption) VALUES ('delete', ?, ?)",
                 (image_id, fts_text(CAT_CAPTION)))
    conn.execute("INSERT INTO images_fts(rowid, caption) VALUES (?, 'unrelated words')", (image_id,))
    return f"1 sampled captions are not found by their own words: ids {image_id}"


def reinsert_removed_row(conn):
    from laionlens.hashing import url_sha256

    image_id = cat_id(conn)
    conn.execute("INSERT INTO removals VALUES (?, 'takedown', '2026-01-01T00:00:00Z')",
                 (url_sha256(CAT_URL),))
    return f"1 removed rows are present in images: ids {image_id}"


def orphan_embedding_status(conn):
    conn.execute("CREATE TABLE embedding_status (image_id INTEGER PRIMARY KEY REFERENCES images(id))")
    conn.execute("INSERT INTO embedding_status VALUES (987654)")
    return "embedding_status.image_id refers to 1 ids missing from images: 987654"


def overcount_ingest_file(conn):
    conn.execute("INSERT INTO ingest_files(path, name, fingerprint, rows_total, rows_done, status) "
                 "VALUES ('/x/part-7.parquet', 'part-7.parquet', 'fp-7', 10, 12, 'done')")
    file_id = conn.execute("SELECT id FROM ingest_files WHERE fingerprint = 'fp-7'").fetchone()[0]
    return f"ingest file {file_id} (part-7.parquet): rows_done 12 exceeds rows_total 10"


def undercount_ingest_file(conn):
    file_id, name = conn.execute("SELECT id, name FROM ingest_files").fetchone()
    conn.execute("UPDATE ingest_files SET rows_done = 2")
    return f"ingest file {file_id} ({name}): images holds {len(ROWS)} rows from it but rows_done is 2"


@pytest.mark.parametrize("damage, check_name", [
    (break_domain_count, "domain counts"),
    (drop_fts_entry, "fts rows match captions"),
    (delete_row_but_not_fts, "fts rows match captions"),
    (index_wrong_text, "captions findable (sample)"),
    (reinsert_removed_row, "no removed rows present"),
    (orphan_embedding_status, "image ids of other tables"),
    (overcount_ingest_file, "ingest file progress"),
    (undercount_ingest_file, "ingest file progress"),
])
def test_check_reports_exact_problem(tmp_path, damage, check_name):
    db_path = build_database(tmp_path)
    conn = sqlite3.connect(db_path)
    expected = damage(conn)
    conn.commit()
    conn.close()
    result = run_check(db_path, "--sample", "50")
    assert result.exit_code == 1
    assert f"FAIL  {check_name}" in result.output
    assert expected in result.output
    assert result.output.count("FAIL") == 1, result.output


def test_check_lists_first_ids_only(tmp_path):
    rows = [(f"https://example.org/{i}.jpg", f"caption number {i}", i) for i in range(15)]
    db_path = build_database(tmp_path, rows)
    conn = sqlite3.connect(db_path)
    for image_id, caption in conn.execute("SELECT id, caption FROM images").fetchall():
        conn.execute("INSERT INTO images_fts(images_fts, rowid, caption) VALUES ('delete', ?, ?)",
                     (image_id, fts_text(caption)))
    conn.commit()
    conn.close()
    result = run_check(db_path)
    assert "15 captioned rows are missing from images_fts: ids 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 5 more" \
        in result.output


def test_check_passes_fresh_database(tmp_path):
    result = run_check(build_database(tmp_path), "--full")
    assert result.exit_code == 0, result.output
    assert "all 10 checks passed" in result.output


def test_check_finds_removed_row_inserted_by_hand(tmp_path):
    db_path = build_database(tmp_path)
    listed = tmp_path / "takedown.txt"
    listed.write_text(CAT_URL + "\n")
    CliRunner().invoke(cli, ["remove", "--db", str(db_path), "--urls", str(listed), "--reason", "x"])
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO images(id, url, caption) VALUES (999, ?, NULL)", (CAT_URL,))
    conn.commit()
    conn.close()
    result = run_check(db_path)
    assert result.exit_code == 1
    assert "1 removed rows are present in images: ids 999" in result.output


def test_check_fix_recomputes_domain_counts(tmp_path):
    db_path = build_database(tmp_path)
    conn = sqlite3.connect(db_path)
    break_domain_count(conn)
    conn.commit()
    conn.close()
    result = run_check(db_path, "--fix")
    assert result.exit_code == 0, result.output
    assert "fixed the image_count of 1 domains" in result.output


def test_check_reports_damaged_file(tmp_path):
    db_path = build_database(tmp_path)
    conn = sqlite3.connect(db_path)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'images_url_hash'").fetchone()[0]
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with open(db_path, "r+b") as handle:
        handle.seek((root - 1) * page_size)
        handle.write(b"\x0d" + b"\xff" * 64)  # a table-leaf page type where an index page belongs
    result = run_check(db_path)
    assert result.exit_code == 1
    assert "FAIL  sqlite integrity" in result.output


@pytest.mark.parametrize("content, expected", [
    (None, "not found"),
    (b"this is not sqlite", "is not an SQLite database"),
    (b"", "is not a LAION Lens database"),  # an empty file opens as an empty database
])
def test_check_rejects_unusable_file(tmp_path, content, expected):
    db_path = tmp_path / "odd.db"
    if content is not None:
        db_path.write_bytes(content)
    result = run_check(db_path)
    assert result.exit_code == 1
    assert expected in result.output


def test_check_finds_removed_row_in_stored_generation(tmp_path):
    import json

    from laionlens.provenance import ensure_table

    db_path = build_database(tmp_path)
    listed = tmp_path / "takedown.txt"
    listed.write_text(CAT_URL + "\n")
    conn = sqlite3.connect(db_path)
    removed_id = cat_id(conn)
    conn.close()
    CliRunner().invoke(cli, ["remove", "--db", str(db_path), "--urls", str(listed), "--reason", "x"])
    conn = sqlite3.connect(db_path)
    ensure_table(conn)
    result = json.dumps({"neighbours": [{"id": removed_id, "url": CAT_URL}]})
    conn.execute("INSERT INTO generations(id, created_at, source, backend, image_sha256, result) "
                 "VALUES (41, '2026-01-01', 'upload', 'none', 'x', ?)", (result,))
    conn.execute("INSERT INTO generations(id, created_at, source, backend, image_sha256, result) "
                 "VALUES (42, '2026-01-01', 'upload', 'none', 'y', 'not json')")
    conn.commit()
    conn.close()
    output = run_check(db_path).output
    assert "FAIL  stored results without removed rows" in output
    assert "generations.result of 1 rows lists removed rows: rowids 41." in output


def interrupt_ingest(db_path):
    """Leave the database as a kill -9 after the first batches of a file leaves it."""
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE ingest_files SET status = 'started', rows_done = 4, finished_at = NULL")
    conn.execute("INSERT OR REPLACE INTO lens_state(key, value) VALUES ('ingest_pending', '1')")
    conn.execute("UPDATE domains SET image_count = 0")
    conn.commit()
    path = conn.execute("SELECT path FROM ingest_files").fetchone()[0]
    conn.close()
    return path


def test_check_reports_interrupted_ingest(tmp_path):
    db_path = build_database(tmp_path)
    path = interrupt_ingest(db_path)
    output = run_check(db_path).output
    assert "FAIL  ingest file progress" in output
    assert (f"interrupted ingest of {path} at 4 of {len(ROWS)} rows: rerun laionlens ingest "
            "with the same source to finish it") in output
    assert "rerun laionlens ingest with the same source to finish it, or run laionlens check --fix" in output


def test_check_reports_pending_index_steps(tmp_path):
    db_path = build_database(tmp_path)
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT OR REPLACE INTO lens_state(key, value) VALUES ('ingest_pending', '1')")
    conn.commit()
    conn.close()
    result = run_check(db_path)
    assert result.exit_code == 1
    assert "ingest_pending is 1): rerun laionlens ingest" in result.output


def test_check_lists_first_domains_only(tmp_path):
    rows = [(f"https://host{i}.example.org/{i}.jpg", f"caption {i}", i) for i in range(14)]
    db_path = build_database(tmp_path, rows)
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE domains SET image_count = 7")
    conn.commit()
    conn.close()
    output = run_check(db_path).output
    assert output.count("image_count is 7 but images has 1 rows") == 10
    assert "and 4 more domains" in output
    assert "14 domains have a wrong image_count. Recompute them with laionlens check --fix." in output


def test_check_reports_schema_version_1(tmp_path):
    db_path = build_database(tmp_path)
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE lens_state SET value = '1' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    result = run_check(db_path)
    assert result.exit_code == 1
    assert "FAIL  schema version" in result.output
    assert "schema version 1, not 3: rerun laionlens ingest or laionlens remove" in result.output
