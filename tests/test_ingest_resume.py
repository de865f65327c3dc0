"""An ingest killed with SIGKILL at any point, then run again, equals an uninterrupted one."""

import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from laionlens.text import literal_query

ROWS = 40_000
BATCH_ROWS = 400
WORDS = ["harbour", "Dvořák", "sunset", "portrait", "東京", "watercolour", "by", "velinov",
         "Café", "mountain", "oil", "canvas", "city", "night", "ÉCOLE"]
DOMAINS = ["www.example.com", "cdn.shopify.com", "i.pinimg.com", "WWW.Photos.Test", "img.test.org"]
QUERIES = ["harbour", "Dvorak", "東京", "cafe", "velinov", "ecole", "oil city"]


@pytest.fixture(scope="module")
def shard(tmp_path_factory) -> Path:
    """A 40,000-row aesthetics-style shard with null captions, NaN widths and repeated URLs."""
    path = tmp_path_factory.mktemp("shard") / "part-00000.parquet"
    rows = range(ROWS)
    # Every combination of three words appears, so every query has hits.
    captions = [None if i % 17 == 0 else " ".join(WORDS[i // n % len(WORDS)] for n in (1, 15, 225))
                for i in rows]
    table = pa.table({
        "URL": [f"http://{DOMAINS[i % len(DOMAINS)]}/img/{i % 39_000}.jpg" for i in rows],
        "TEXT": captions,
        "WIDTH": pa.array([math.nan if i % 13 == 0 else float(200 + i % 900) for i in rows]),
        "hash": pa.array([(i * 2_654_435_761) % 2**63 - 2**62 for i in rows], pa.int64()),
    })
    pq.write_table(table, path, row_group_size=7_000)
    return path


def run_ingest(shard: Path, db: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "laionlens", "ingest", str(shard), "--db", str(db),
               "--batch-size", str(BATCH_ROWS), "--no-progress"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def progress(db: Path) -> tuple[int, str] | None:
    """rows_done and status of the shard, or None before it is registered."""
    try:
        conn = sqlite3.connect(db, timeout=10)
        try:
            row = conn.execute("SELECT rows_done, status FROM ingest_files").fetchone()
        finally:
            conn.close()
    except sqlite3.OperationalError:  # tables not created yet
        return None
    return row


def kill_when(shard: Path, db: Path, reached) -> bool:
    """Start an ingest and SIGKILL it once ``reached(progress)``; False if it finished first."""
    process = run_ingest(shard, db)
    while process.poll() is None:
        state = progress(db) if db.exists() else None
        if state is not None and reached(state):
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.01)
    assert process.returncode == 0, process.stderr.read().decode()
    return False


def dump(db: Path) -> dict:
    """Everything an ingest decides, without timestamps."""
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO images_fts(images_fts, rank) VALUES ('integrity-check', 0)")
    result = {
        "images": conn.execute("SELECT * FROM images ORDER BY id").fetchall(),
        "domains": conn.execute("SELECT * FROM domains ORDER BY id").fetchall(),
        "files": conn.execute("SELECT id, path, name, fingerprint, size_bytes, rows_total, "
                              "rows_done, status FROM ingest_files").fetchall(),
        "fts_docs": conn.execute("SELECT * FROM images_fts_docsize ORDER BY id").fetchall(),
        "state": conn.execute("SELECT * FROM lens_state ORDER BY key").fetchall(),
        "schema": conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall(),
        "integrity": conn.execute("PRAGMA integrity_check").fetchall(),
    }
    for text in QUERIES:
        result[text] = conn.execute("SELECT rowid FROM images_fts WHERE images_fts MATCH ? ORDER BY rowid",
                                    (literal_query(text),)).fetchall()
    conn.close()
    return result


@pytest.fixture(scope="module")
def clean(shard, tmp_path_factory) -> dict:
    db = tmp_path_factory.mktemp("clean") / "clean.db"
    assert not kill_when(shard, db, lambda state: False)
    return dump(db)


def test_ingest_clean_run_stores_every_row(clean):
    assert len(clean["images"]) == ROWS
    assert len(clean["fts_docs"]) == ROWS - len(range(0, ROWS, 17))
    assert all(hit for text, hit in clean.items() if text in QUERIES)


def after_last_batch(state) -> bool:
    # Kills during the indexes, the domain counts or the report, if the run is not
    # already over by then.
    return state[1] == "done"


# Points at which the ingest is killed, one after another on the same database.
KILL_POINTS = {
    "registered": [lambda s: True],  # as soon as the shard is registered
    "mid_file": [lambda s: s[0] >= ROWS * 0.3],
    "three_times": [lambda s: s[0] >= ROWS * 0.1, lambda s: s[0] >= ROWS * 0.5,
                    lambda s: s[0] >= ROWS * 0.8],
    "after_last_batch": [after_last_batch],
}


@pytest.mark.parametrize("points", KILL_POINTS.values(), ids=KILL_POINTS.keys())
def test_ingest_killed_then_rerun_equals_clean_run(shard, clean, tmp_path, points):
    db = tmp_path / "killed.db"
    done_before = -1
    for reached in points:
        killed = kill_when(shard, db, reached)
        state = progress(db)
        assert killed or reached is after_last_batch
        assert state[0] >= done_before
        done_before = state[0]
    assert not kill_when(shard, db, lambda state: False)
    assert dump(db) == clean
