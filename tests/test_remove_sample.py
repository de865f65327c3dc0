"""Removals on the real 10,000-row LAION sample: URL lists and keep-only, then check."""

import random
import sqlite3

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from laionlens.cli import cli
from tests.removal_fixtures import fts_ids

pytestmark = pytest.mark.sample


@pytest.fixture(scope="module")
def sample_db(sample_path, tmp_path_factory):
    from ingest.pipeline import ingest_paths

    db_path = tmp_path_factory.mktemp("sample") / "sample.db"
    ingest_paths([sample_path], db_path)
    return db_path


@pytest.fixture
def db_copy(sample_db, tmp_path):
    copy = tmp_path / "lens.db"
    source = sqlite3.connect(sample_db)
    target = sqlite3.connect(copy)
    source.backup(target)
    source.close()
    target.close()
    return copy


def rows_of(db_path):
    conn = sqlite3.connect(db_path)
    rows = conn.execute("SELECT id, url, caption FROM images ORDER BY id").fetchall()
    conn.close()
    return rows


def run_cli(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_remove_sample_urls_then_check(db_copy, tmp_path):
    rows = rows_of(db_copy)
    chosen = random.Random(3).sample([row for row in rows if row[2]], 300)
    removed_urls = {url for _, url, _ in chosen}
    listed = tmp_path / "takedown.txt"
    listed.write_text("".join(f"{url}\n" for url in sorted(removed_urls)), encoding="utf-8")

    result = run_cli("remove", "--db", str(db_copy), "--urls", str(listed), "--reason", "takedown")

    expected = sum(1 for _, url, _ in rows if url in removed_urls)
    assert result.exit_code == 0, result.output
    assert f"removed {expected:,} rows" in result.output
    remaining = {url for _, url, _ in rows_of(db_copy)}
    assert remaining.isdisjoint(removed_urls)
    removed_ids = {image_id for image_id, _, _ in chosen}
    for _, _, caption in chosen[:40]:
        assert removed_ids.isdisjoint(fts_ids(db_copy, caption))
    check = run_cli("check", "--db", str(db_copy), "--sample", "500")
    assert check.exit_code == 0, check.output


def test_remove_sample_keep_only_then_check(db_copy, tmp_path):
    rows = rows_of(db_copy)
    urls = sorted({url for _, url, _ in rows})
    dropped = set(random.Random(5).sample(urls, 100))
    shard = tmp_path / "relaion-part-00000.parquet"
    pq.write_table(pa.table({"url": [url for url in urls if url not in dropped]}), shard)

    result = run_cli("remove", "--db", str(db_copy), "--keep-only", str(shard), "--reason", "Re-LAION")

    expected = sum(1 for _, url, _ in rows if url in dropped)
    assert result.exit_code == 0, result.output
    assert f"removed {expected:,} rows" in result.output
    assert len(rows_of(db_copy)) == len(rows) - expected
    check = run_cli("check", "--db", str(db_copy))
    assert check.exit_code == 0, check.output
