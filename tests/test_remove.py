"""``laionlens remove``: URL lists, hash lists and keep-only, against real SQLite files."""

import sqlite3

import pytest
from click.testing import CliRunner

from laionlens.cli import cli
from laionlens.hashing import url_sha256
from tests.removal_fixtures import ROWS, build_database, fts_ids, table_dump, write_shard

CAT, DOG, PAINTING, MUG, SAKURA, TREE = (row[0] for row in ROWS)


def run_cli(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def write_lines(path, lines):
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def urls_in(db_path):
    conn = sqlite3.connect(db_path)
    urls = {row[0] for row in conn.execute("SELECT url FROM images")}
    conn.close()
    return urls


def domain_counts(db_path):
    conn = sqlite3.connect(db_path)
    counts = dict(conn.execute("SELECT domain, image_count FROM domains"))
    conn.close()
    return counts


@pytest.fixture
def db_path(tmp_path):
    return build_database(tmp_path)


def test_remove_urls_deletes_rows_everywhere(db_path, tmp_path):
    listed = write_lines(tmp_path / "takedown.txt", [CAT, SAKURA])
    result = run_cli("remove", "--db", str(db_path), "--urls", str(listed), "--reason", "takedown")
    assert result.exit_code == 0, result.output
    assert "removed 2 rows" in result.output
    assert urls_in(db_path) == {DOG, PAINTING, MUG, TREE}
    assert fts_ids(db_path, "cat") == []
    assert fts_ids(db_path, "桜") == []
    assert fts_ids(db_path, "sakura") == []
    assert len(fts_ids(db_path, "retriever")) == 1
    assert domain_counts(db_path)["example.org"] == 1
    assert domain_counts(db_path)["img.example.jp"] == 0


def test_remove_urls_summary_lists_domains(db_path, tmp_path, caplog):
    listed = write_lines(tmp_path / "takedown.txt", [CAT, DOG, TREE])
    with caplog.at_level("INFO", logger="laionlens.remove"):
        result = run_cli("remove", "--db", str(db_path), "--urls", str(listed), "--reason", "x")
    lines = result.output.splitlines()
    assert "           2  example.org" in lines
    assert "           1  example.net" in lines
    assert "recorded in removals: 3 new URL hashes" in lines
    assert "removed 3 rows (URL list, 3 entries listed)" in caplog.messages


def test_remove_urls_records_hashes_and_ids(db_path, tmp_path):
    conn = sqlite3.connect(db_path)
    cat_id = conn.execute("SELECT id FROM images WHERE url = ?", (CAT,)).fetchone()[0]
    conn.close()
    unknown = "https://elsewhere.example/not-ingested.jpg"
    listed = write_lines(tmp_path / "optout.txt", [CAT, unknown, CAT])
    result = run_cli("remove", "--db", str(db_path), "--urls", str(listed), "--reason", "artist opt-out")
    assert result.exit_code == 0, result.output
    assert "not in the database: 1 listed entries" in result.output
    conn = sqlite3.connect(db_path)
    removals = dict(conn.execute("SELECT url_sha256, reason FROM removals"))
    removed_rows = conn.execute("SELECT image_id, url_sha256, reason FROM removed_rows").fetchall()
    conn.close()
    assert removals == {url_sha256(CAT): "artist opt-out", url_sha256(unknown): "artist opt-out"}
    assert removed_rows == [(cat_id, url_sha256(CAT), "artist opt-out")]


def test_remove_hashes_deletes_matching_rows(db_path, tmp_path):
    listed = write_lines(tmp_path / "hashes.txt", ["# LAION hash values", str(ROWS[0][2]), "", "42", "77"])
    result = run_cli("remove", "--db", str(db_path), "--hashes", str(listed), "--reason", "takedown")
    assert result.exit_code == 0, result.output
    assert "removed 2 rows" in result.output
    assert "not in the database: 1 listed entries" in result.output
    assert urls_in(db_path) == {DOG, MUG, SAKURA, TREE}
    assert fts_ids(db_path, "rutkowski") == []
    assert domain_counts(db_path)["artstation.com"] == 0


@pytest.mark.parametrize("url_column, as_folder", [
    ("url", True),  # Re-LAION writes lower case
    ("URL", True),
    ("url", False),  # one --keep-only option per file
])
def test_remove_keep_only_removes_rows_missing_from_shards(db_path, tmp_path, url_column, as_folder):
    kept_rows = [row for row in ROWS if row[0] not in (CAT, MUG)]
    folder = tmp_path / "relaion"
    folder.mkdir()
    parts = [write_shard(folder / "part-0.parquet", kept_rows[:2], url_column=url_column),
             write_shard(folder / "part-1.parquet", kept_rows[2:], url_column=url_column)]
    shard_args = ["--keep-only", str(folder)]
    if not as_folder:
        shard_args = ["--keep-only", str(parts[0]), "--keep-only", str(parts[1])]
    result = run_cli("remove", "--db", str(db_path), *shard_args, "--reason", "Re-LAION")
    assert result.exit_code == 0, result.output
    assert "removed 2 rows (keep-only, 4 entries listed)" in result.output
    assert urls_in(db_path) == {DOG, PAINTING, SAKURA, TREE}
    assert domain_counts(db_path)["cdn.shop.example.com"] == 0


def test_remove_then_reingest_keeps_rows_out(db_path, tmp_path):
    from ingest.pipeline import ingest_paths

    listed = write_lines(tmp_path / "takedown.txt", [CAT, TREE])
    run_cli("remove", "--db", str(db_path), "--urls", str(listed), "--reason", "takedown")
    # An extra row makes it a new file to the ingest, which skips files it has seen.
    newcomer = ("https://example.org/bird.jpg", "a small bird", 99)
    again = write_shard(tmp_path / "shard-again.parquet", ROWS + [newcomer])
    report = ingest_paths([again], db_path)
    assert report.rows_written == len(ROWS) - 2 + 1
    assert CAT not in urls_in(db_path)
    assert TREE not in urls_in(db_path)
    assert newcomer[0] in urls_in(db_path)
    assert fts_ids(db_path, "oak") == []
    assert run_cli("check", "--db", str(db_path)).exit_code == 0


def test_remove_then_check_passes(db_path, tmp_path):
    listed = write_lines(tmp_path / "takedown.txt", [CAT, MUG, SAKURA])
    run_cli("remove", "--db", str(db_path), "--urls", str(listed), "--reason", "takedown")
    result = run_cli("check", "--db", str(db_path))
    assert result.exit_code == 0, result.output


def test_remove_deletes_from_tables_keyed_by_image_id(db_path, tmp_path):
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE embedding_status (image_id INTEGER PRIMARY KEY, status TEXT)")
    conn.execute("INSERT INTO embedding_status SELECT id, 'done' FROM images")
    conn.commit()
    conn.close()
    listed = write_lines(tmp_path / "takedown.txt", [CAT])
    result = run_cli("remove", "--db", str(db_path), "--urls", str(listed), "--reason", "takedown")
    assert "also deleted from embedding_status: 1 rows" in result.output
    conn = sqlite3.connect(db_path)
    orphans = conn.execute(
        "SELECT count(*) FROM embedding_status WHERE image_id NOT IN (SELECT id FROM images)").fetchone()[0]
    remaining = conn.execute("SELECT count(*) FROM embedding_status").fetchone()[0]
    conn.close()
    assert orphans == 0
    assert remaining == len(ROWS) - 1


def test_remove_dry_run_changes_nothing(db_path, tmp_path):
    before = table_dump(db_path)
    listed = write_lines(tmp_path / "takedown.txt", [CAT, DOG])
    result = run_cli("remove", "--db", str(db_path), "--urls", str(listed), "--reason", "x", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would remove 2 rows" in result.output
    assert "would record in removals: 2 new URL hashes" in result.output
    assert table_dump(db_path) == before


@pytest.mark.parametrize("option, lines, expected", [
    ("--hashes", ["42", "-7", "twelve"], "line 3: 'twelve' is not an integer"),
    ("--hashes", [str(2**63)], "line 1: '9223372036854775808' is outside the int64 range"),
    ("--urls", [CAT, "-3942810832793181892"], "line 2: '-3942810832793181892' is not a URL"),
    ("--urls", ["# only a comment", ""], "contains no entries"),
    ("--hashes", [], "contains no entries"),
])
def test_remove_invalid_list_changes_nothing(db_path, tmp_path, option, lines, expected):
    before = table_dump(db_path)
    listed = write_lines(tmp_path / "list.txt", lines)
    result = run_cli("remove", "--db", str(db_path), option, str(listed), "--reason", "x")
    assert result.exit_code == 1
    assert expected in result.output
    assert str(listed) in result.output
    assert table_dump(db_path) == before


def test_remove_invalid_utf8_names_line(db_path, tmp_path):
    listed = tmp_path / "latin1.txt"
    listed.write_bytes(CAT.encode() + b"\nhttps://example.org/caf\xe9.jpg\n")
    result = run_cli("remove", "--db", str(db_path), "--urls", str(listed), "--reason", "x")
    assert result.exit_code == 1
    assert "line 2: not valid UTF-8" in result.output


@pytest.mark.parametrize("args, expected", [
    (["--urls", "missing.txt", "--reason", "x"], "missing.txt' not found"),
    (["--keep-only", "missing-folder", "--reason", "x"], "shard 'missing-folder' not found"),
    (["--urls", "a.txt", "--hashes", "b.txt", "--reason", "x"], "exactly one of"),
    (["--reason", "x"], "exactly one of"),
    (["--urls", "a.txt"], "Missing option '--reason'"),
    (["--urls", "a.txt", "--reason", "  "], "--reason is required"),
])
def test_remove_bad_arguments_rejected(db_path, tmp_path, monkeypatch, args, expected):
    monkeypatch.chdir(tmp_path)
    before = table_dump(db_path)
    result = run_cli("remove", "--db", str(db_path), *args)
    assert result.exit_code != 0
    assert expected in result.output
    assert table_dump(db_path) == before


def test_remove_keep_only_without_url_column_rejected(db_path, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    shard = tmp_path / "wrong.parquet"
    pq.write_table(pa.table({"caption": ["x"]}), shard)
    result = run_cli("remove", "--db", str(db_path), "--keep-only", str(shard), "--reason", "x")
    assert result.exit_code == 1
    assert "has no url or URL column (columns: caption)" in result.output


def test_remove_keep_only_empty_shard_rejected(db_path, tmp_path):
    before = table_dump(db_path)
    shard = write_shard(tmp_path / "empty.parquet", [], url_column="url")
    result = run_cli("remove", "--db", str(db_path), "--keep-only", str(shard), "--reason", "x")
    assert result.exit_code == 1
    assert "contain no URLs" in result.output
    assert table_dump(db_path) == before


@pytest.mark.parametrize("content, expected", [
    (None, "nope.db' not found"),
    (b"not a database at all, just text", "is not an SQLite database"),
])
def test_remove_unusable_database_rejected(tmp_path, content, expected):
    db_path = tmp_path / "nope.db"
    if content is not None:
        db_path.write_bytes(content)
    listed = write_lines(tmp_path / "takedown.txt", [CAT])
    result = run_cli("remove", "--db", str(db_path), "--urls", str(listed), "--reason", "x")
    assert result.exit_code == 1
    assert expected in result.output


def test_remove_locked_database_rejected(db_path, tmp_path, monkeypatch):
    from ingest import remove as removal

    monkeypatch.setattr(removal, "LOCK_TIMEOUT_S", 0.1)
    writer = sqlite3.connect(db_path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        listed = write_lines(tmp_path / "takedown.txt", [CAT])
        result = run_cli("remove", "--db", str(db_path), "--urls", str(listed), "--reason", "x")
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert result.exit_code == 1
    assert "is locked by another writer" in result.output
    assert CAT in urls_in(db_path)


def test_remove_interrupted_leaves_database_unchanged(db_path, tmp_path):
    # The trigger fails the last step (deleting from images), after the FTS index,
    # the domain counts and the removal records have been written in the transaction.
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TRIGGER fail_delete BEFORE DELETE ON images "
                 "BEGIN SELECT RAISE(ABORT, 'simulated failure'); END")
    conn.commit()
    conn.close()
    before = table_dump(db_path)
    listed = write_lines(tmp_path / "takedown.txt", [CAT, SAKURA])
    with pytest.raises(sqlite3.IntegrityError, match="simulated failure"):
        run_cli("remove", "--db", str(db_path), "--urls", str(listed), "--reason", "takedown")
    assert table_dump(db_path) == before
    assert fts_ids(db_path, "cat") != []


def store_generation(db_path, neighbour_ids):
    from laionlens.provenance import GenerationRecord, insert_generation

    conn = sqlite3.connect(db_path)
    rows = conn.execute(f"SELECT id, url, caption FROM images WHERE id IN ({','.join('?' * len(neighbour_ids))})",
                        neighbour_ids).fetchall()
    by_id = {image_id: {"id": image_id, "url": url, "caption": caption, "similarity": 0.9}
             for image_id, url, caption in rows}
    result = {"neighbours": [by_id[i] for i in neighbour_ids], "verdict": {"best_id": neighbour_ids[0]}}
    record = GenerationRecord(source="upload", backend="none", image_png=b"", image_sha256="0" * 64,
                              width=1, height=1, params={}, result=result)
    generation_id = insert_generation(conn, record)
    conn.close()
    return generation_id


def test_remove_drops_rows_from_stored_generations(db_path, tmp_path):
    from laionlens.provenance import load_generation

    conn = sqlite3.connect(db_path)
    ids = dict(conn.execute("SELECT url, id FROM images"))
    conn.close()
    order = [ids[DOG], ids[CAT], ids[TREE]]
    generation_id = store_generation(db_path, order)
    untouched_id = store_generation(db_path, [ids[TREE]])
    listed = write_lines(tmp_path / "takedown.txt", [CAT])
    result = run_cli("remove", "--db", str(db_path), "--urls", str(listed), "--reason", "takedown")
    assert "also deleted from generations.result: 1 rows" in result.output
    conn = sqlite3.connect(db_path)
    stored = load_generation(conn, generation_id)["result"]
    untouched = load_generation(conn, untouched_id)["result"]
    conn.close()
    assert [row["id"] for row in stored["neighbours"]] == [ids[DOG], ids[TREE]]
    assert stored["verdict"] == {"best_id": ids[DOG]}
    assert [row["id"] for row in untouched["neighbours"]] == [ids[TREE]]
    assert run_cli("check", "--db", str(db_path)).exit_code == 0


def test_remove_deletes_local_image_copies(db_path, tmp_path):
    conn = sqlite3.connect(db_path)
    ids = dict(conn.execute("SELECT url, id FROM images"))
    conn.close()
    images_dir = tmp_path / "images"
    images_dir.mkdir()
    removed_files = [images_dir / f"{ids[CAT]}.jpg", images_dir / f"{ids[CAT]}.png"]
    kept_file = images_dir / f"{ids[DOG]}.jpg"
    for path in [*removed_files, kept_file]:
        path.write_bytes(b"image bytes")
    listed = write_lines(tmp_path / "takedown.txt", [CAT])
    result = run_cli("remove", "--db", str(db_path), "--urls", str(listed), "--reason", "takedown",
                     "--images-dir", str(images_dir))
    assert "deleted 2 local image files" in result.output
    assert not any(path.exists() for path in removed_files)
    assert kept_file.exists()


def test_remove_help_marks_reason_required():
    result = run_cli("remove", "--help")
    assert "--reason TEXT" in result.output
    assert "[required]" in result.output


def test_remove_missing_list_starts_nothing(db_path, tmp_path, caplog):
    caplog.set_level("INFO", logger="laionlens.remove")
    result = run_cli("remove", "--db", str(db_path), "--urls", str(tmp_path / "none.txt"), "--reason", "x")
    assert result.exit_code == 1
    assert "none.txt' not found" in result.output
    assert "rolled back" not in caplog.text
    assert "reading" not in result.output


def test_remove_logs_one_summary_line(db_path, tmp_path, caplog):
    caplog.set_level("INFO", logger="laionlens.remove")
    listed = write_lines(tmp_path / "takedown.txt", [CAT, DOG])
    run_cli("remove", "--db", str(db_path), "--urls", str(listed), "--reason", "x")
    summary = [record.getMessage() for record in caplog.records if "rows (URL list" in record.getMessage()]
    assert summary == ["removed 2 rows (URL list, 2 entries listed)"]
    assert not any("recorded in removals" in record.getMessage() for record in caplog.records)
