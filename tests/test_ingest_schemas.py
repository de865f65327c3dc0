"""Every LAION schema lands in the one images table with the right values and types."""

import json
import logging
import math
import sqlite3

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest.pipeline import ingest_paths
from laionlens.text import literal_query
from tests.ingest_files import HASH, ROWS, SCHEMAS, UNKNOWN, write_release, write_table

CHECKED = ("caption", "width", "height", "similarity", "punsafe", "pwatermark", "aesthetic",
           "hash", "language", "license", "nsfw")


@pytest.fixture(scope="module")
def releases_db(tmp_path_factory):
    """One database holding the three rows of every release; returns (conn, report)."""
    folder = tmp_path_factory.mktemp("releases")
    paths = [write_release(release, folder) for release in SCHEMAS]
    report = ingest_paths(paths, folder / "lens.db")
    conn = sqlite3.connect(folder / "lens.db")
    yield conn, report
    conn.close()


def expected(release: str, target: str, row: int):
    """The value images.<target> should hold for ``row`` of ``release``, or None."""
    mapped = {column for _, column, _ in SCHEMAS[release] if column}
    if target not in mapped:
        return None
    value = ROWS[target][row]
    if isinstance(value, float) and math.isnan(value):
        return None
    if target in ("width", "height"):
        return int(value)
    return value


@pytest.mark.parametrize("release", SCHEMAS)
def test_ingest_release_maps_every_known_column(releases_db, release):
    conn, _ = releases_db
    rows = conn.execute(
        f"SELECT {', '.join(CHECKED)} FROM images WHERE url LIKE ? ORDER BY source_row",
        (f"%?release={release}",),
    ).fetchall()
    assert len(rows) == 3
    for number, row in enumerate(rows):
        for target, value in zip(CHECKED, row):
            want = expected(release, target, number)
            if isinstance(want, float):
                assert value == pytest.approx(want, rel=1e-6), (release, target, number)
            else:
                assert value == want, (release, target, number)


@pytest.mark.parametrize(
    "column, sqlite_type",
    [
        ("width", "integer"),  # float64 1024.0 in most releases
        ("height", "integer"),
        ("hash", "integer"),
        ("similarity", "real"),
        ("punsafe", "real"),  # float32 in the joined releases
        ("aesthetic", "real"),  # aesthetic or AESTHETIC_SCORE
        ("caption", "text"),
    ],
)
def test_ingest_release_stores_sqlite_types(releases_db, column, sqlite_type):
    conn, _ = releases_db
    types = {row[0] for row in conn.execute(f"SELECT DISTINCT typeof({column}) FROM images")}
    assert types <= {sqlite_type, "null"}
    assert sqlite_type in types


def test_ingest_release_keeps_negative_hash(releases_db):
    conn, _ = releases_db
    count = conn.execute("SELECT count(*) FROM images WHERE hash = ?", (HASH,)).fetchone()[0]
    hashed = sum(any(column == "hash" for _, column, _ in spec) for spec in SCHEMAS.values())
    assert count == hashed


def test_ingest_release_stores_nan_and_null_as_null(releases_db):
    conn, _ = releases_db
    texts = conn.execute(
        "SELECT count(*) FROM images WHERE caption IN ('nan', 'NaN', 'None', '')"
        " OR width IS NOT NULL AND url LIKE '%/b.png%'"
    ).fetchone()[0]
    nulls = conn.execute("SELECT count(*) FROM images WHERE caption IS NULL").fetchone()[0]
    assert texts == 0
    assert nulls == len(SCHEMAS)


def test_ingest_release_reports_unknown_columns_once_per_file(releases_db):
    conn, report = releases_db
    assert report.unknown_columns == {f"{r}.parquet": cols for r, cols in UNKNOWN.items()}
    saved = conn.execute("SELECT unknown_columns FROM ingest_reports").fetchone()[0]
    assert json.loads(saved) == report.unknown_columns


def test_ingest_release_indexes_each_non_null_caption(releases_db):
    conn, _ = releases_db
    captions = conn.execute("SELECT count(*) FROM images WHERE caption IS NOT NULL").fetchone()[0]
    # images_fts is contentless: its docsize table has one row per indexed document.
    indexed = conn.execute(
        "SELECT count(*) FROM images_fts_docsize JOIN images USING (id) WHERE caption IS NOT NULL"
    ).fetchone()[0]
    assert conn.execute("SELECT count(*) FROM images_fts_docsize").fetchone()[0] == captions
    assert indexed == captions


@pytest.mark.parametrize(
    "query",
    [
        "Dvorak",  # accents folded at index and query time
        "dvořák",
        "東京",  # CJK split into characters by fts_text
        "夜景",
    ],
)
def test_ingest_release_caption_is_searchable(releases_db, query):
    conn, _ = releases_db
    hits = conn.execute(
        "SELECT caption FROM images WHERE id IN "
        "(SELECT rowid FROM images_fts WHERE images_fts MATCH ?)",
        (literal_query(query),),
    ).fetchall()
    assert len(hits) == len(SCHEMAS)
    assert all(caption.startswith("Dvořák") for (caption,) in hits)


def test_ingest_caption_column_of_only_nan_stores_null(tmp_path):
    # pandas writes a caption column holding only NaN as float64.
    path = write_table(tmp_path / "nan.parquet", {"URL": ["http://a.test/1", "http://a.test/2"],
                                                  "TEXT": [math.nan, None]},
                       {"TEXT": pa.float64()})
    ingest_paths([path], tmp_path / "lens.db")
    conn = sqlite3.connect(tmp_path / "lens.db")
    assert conn.execute("SELECT caption FROM images").fetchall() == [(None,), (None,)]
    assert conn.execute("SELECT count(*) FROM images_fts_docsize").fetchone()[0] == 0


def test_ingest_row_without_url_is_skipped_with_reason(tmp_path):
    path = write_table(tmp_path / "x.parquet", {"URL": ["http://a.test/1", None, "  "],
                                                "TEXT": ["one", "two", "three"]})
    report = ingest_paths([path], tmp_path / "lens.db")
    conn = sqlite3.connect(tmp_path / "lens.db")
    assert conn.execute("SELECT url, source_row FROM images").fetchall() == [("http://a.test/1", 0)]
    assert (report.rows_read, report.rows_written, dict(report.skipped)) == (3, 1, {"no URL": 2})


def test_ingest_reads_large_and_dictionary_strings(tmp_path):
    table = pa.table({
        "URL": pa.array(["http://a.test/1", "http://b.test/2"], pa.large_string()),
        "TEXT": pa.array(["one", "two"], pa.large_string()),
        "LANGUAGE": pa.array(["en", "en"]).dictionary_encode(),
        "hash": pa.array([2**64 - 1, 5], pa.uint64()),  # kept as its signed 64-bit pattern
    })
    pq.write_table(table, tmp_path / "types.parquet")
    ingest_paths([tmp_path / "types.parquet"], tmp_path / "lens.db")
    conn = sqlite3.connect(tmp_path / "lens.db")
    assert conn.execute("SELECT url, caption, language, hash FROM images ORDER BY id").fetchall() == [
        ("http://a.test/1", "one", "en", -1),
        ("http://b.test/2", "two", "en", 5),
    ]


def test_ingest_logs_each_file_and_shows_progress(tmp_path, caplog, capsys):
    path = write_table(tmp_path / "part-3.parquet", {"URL": ["http://a.test/1"], "TEXT": ["one"]})
    with caplog.at_level(logging.INFO, logger="laionlens.ingest"):
        ingest_paths([path], tmp_path / "lens.db", progress=True)
    messages = [record.getMessage() for record in caplog.records]
    assert f"ingesting {path} (1 rows)" in messages
    assert f"finished {path}" in messages
    progress = capsys.readouterr().err
    assert "100%" in progress
    assert "rows/s" in progress
