"""Bad input is refused with a clear message and leaves the database exactly as it was."""

import hashlib
import sqlite3
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from ingest import errors
from ingest.pipeline import ingest_paths
from laionlens.cli import cli
from tests.ingest_files import write_table


def good_file(folder: Path) -> Path:
    return write_table(folder / "good.parquet", {"URL": ["http://a.test/1", "http://b.test/2"],
                                                 "TEXT": ["one", "two"]})


def not_parquet(folder: Path) -> Path:
    path = folder / "notes.parquet"
    path.write_text("URL,TEXT\nhttp://a.test/1,one\n")
    return path


def empty(folder: Path) -> Path:
    path = folder / "empty.parquet"
    path.write_bytes(b"")
    return path


def truncated(folder: Path) -> Path:
    whole = write_table(folder / "whole.parquet", {"URL": [f"http://a.test/{i}" for i in range(500)],
                                                   "TEXT": [f"caption {i}" for i in range(500)]})
    path = folder / "truncated.parquet"
    data = whole.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    return path


def no_url(folder: Path) -> Path:
    return write_table(folder / "no-url.parquet", {"TEXT": ["one"], "WIDTH": [1.0]},
                       {"WIDTH": pa.float64()})


def no_caption(folder: Path) -> Path:
    return write_table(folder / "no-caption.parquet", {"URL": ["http://a.test/1"], "SAMPLE_ID": [3]},
                       {"SAMPLE_ID": pa.int64()})


def width_as_text(folder: Path) -> Path:
    return write_table(folder / "width-text.parquet",
                       {"URL": ["http://a.test/1"], "TEXT": ["one"], "WIDTH": ["wide"]})


def missing(folder: Path) -> Path:
    return folder / "absent.parquet"


def empty_folder(folder: Path) -> Path:
    (folder / "nothing").mkdir()
    return folder / "nothing"


# maker, exception, phrases the message must contain
CASES = [
    (not_parquet, errors.NotParquetError, ["notes.parquet", "not a parquet file"]),
    (empty, errors.EmptyFileError, ["empty.parquet", "0 bytes"]),
    (truncated, errors.TruncatedParquetError, ["truncated.parquet", "truncated"]),
    (no_url, errors.MissingColumnError, ["no-url.parquet", "no url column", "Columns found: TEXT, WIDTH"]),
    (no_caption, errors.MissingColumnError,
     ["no-caption.parquet", "no caption column", "Columns found: URL, SAMPLE_ID"]),
    (width_as_text, errors.ColumnTypeError, ["width-text.parquet", "'WIDTH'", "expected a number"]),
    (missing, errors.SourceNotFoundError, ["absent.parquet", "not a file, a folder"]),
    (empty_folder, errors.NoParquetFilesError, ["nothing", "no *.parquet file found"]),
]
IDS = [case[0].__name__ for case in CASES]


def snapshot(db: Path) -> dict[str, str]:
    """Digest of the database file and of any journal beside it."""
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()
            for path in db.parent.glob(f"{db.name}*")}


@pytest.fixture
def existing_db(tmp_path):
    db = tmp_path / "lens.db"
    ingest_paths([good_file(tmp_path)], db)
    return db


@pytest.mark.parametrize("make, error, phrases", CASES, ids=IDS)
def test_ingest_bad_source_raises_named_error(tmp_path, make, error, phrases):
    with pytest.raises(error) as raised:
        ingest_paths([make(tmp_path)], tmp_path / "new.db")
    for phrase in phrases:
        assert phrase in str(raised.value)
    assert not (tmp_path / "new.db").exists()


@pytest.mark.parametrize("make, error, phrases", CASES, ids=IDS)
def test_ingest_cli_bad_source_leaves_database_unchanged(tmp_path, existing_db, make, error, phrases):
    before = snapshot(existing_db)
    # The good file comes first: nothing of it may be written either.
    second = tmp_path / "second"
    second.mkdir()
    sources = [str(good_file(second).with_name("good2.parquet")), str(make(tmp_path))]
    write_table(Path(sources[0]), {"URL": ["http://c.test/3"], "TEXT": ["three"]})
    result = CliRunner().invoke(cli, ["ingest", *sources, "--db", str(existing_db), "--no-progress"])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: ")
    for phrase in phrases:
        assert phrase in result.output
    assert snapshot(existing_db) == before


@pytest.mark.parametrize("db_name", ["missing-folder/lens.db", "text.db"])
def test_ingest_unusable_database_raises_named_error(tmp_path, db_name):
    (tmp_path / "text.db").write_text("not a database, " * 100)
    before = (tmp_path / "text.db").read_bytes()
    with pytest.raises(errors.DatabaseOpenError, match=db_name):
        ingest_paths([good_file(tmp_path)], tmp_path / db_name)
    assert (tmp_path / "text.db").read_bytes() == before


def test_ingest_locked_database_raises_named_error(tmp_path, existing_db, monkeypatch):
    monkeypatch.setattr("ingest.database.BUSY_TIMEOUT_S", 0.1)
    other = sqlite3.connect(existing_db, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        more = write_table(tmp_path / "more.parquet", {"URL": ["http://d.test/4"], "TEXT": ["four"]})
        result = CliRunner().invoke(cli, ["ingest", str(more), "--db", str(existing_db)])
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert result.exit_code == 1
    assert "database is locked" in result.output
    assert "run the ingest again" in result.output


def test_ingest_cli_needs_a_source(tmp_path):
    result = CliRunner().invoke(cli, ["ingest", "--db", str(tmp_path / "lens.db")])
    assert result.exit_code == 2
    assert "Missing argument 'SOURCE...'" in result.output


def test_ingest_corrupt_page_names_file_and_row(tmp_path):
    # Footer intact but a data page overwritten: found only while reading rows.
    path = write_table(tmp_path / "pages.parquet", {"URL": [f"http://a.test/{i}" for i in range(2000)],
                                                    "TEXT": [f"caption {i}" for i in range(2000)]})
    chunk = pq.ParquetFile(path).metadata.row_group(0).column(0)
    data = bytearray(path.read_bytes())
    start = chunk.data_page_offset
    data[start: start + chunk.total_compressed_size] = b"\xff" * chunk.total_compressed_size
    path.write_bytes(bytes(data))
    with pytest.raises(errors.IngestError) as raised:
        ingest_paths([path], tmp_path / "lens.db")
    assert "pages.parquet" in str(raised.value)


@pytest.mark.parametrize("source, phrases", [
    ("ftp://127.0.0.1:18999/x.parquet", ["'ftp://127.0.0.1:18999/x.parquet'", "ftp:// URLs are not supported"]),
    ("s3://bucket/part-0.parquet", ["'s3://bucket/part-0.parquet'", "s3:// URLs are not supported"]),
    ("missing//part-0.parquet", ["'missing//part-0.parquet' is not a file"]),
])
def test_ingest_source_quoted_as_given(tmp_path, source, phrases):
    result = CliRunner().invoke(cli, ["ingest", source, "--db", str(tmp_path / "lens.db")])
    assert result.exit_code == 1
    for phrase in phrases:
        assert phrase in result.output
    assert not (tmp_path / "lens.db").exists()
