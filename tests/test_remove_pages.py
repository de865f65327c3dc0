"""Row pages of removed rows return 410 Gone, and unknown ids stay 404."""

import asyncio
import sqlite3

import pytest
from click.testing import CliRunner

from laionlens.cli import cli
from tests.removal_fixtures import ROWS, build_database

CAT_URL = ROWS[0][0]


def get(datasette, path):
    return asyncio.run(datasette.client.get(path))


@pytest.fixture
def removed_db(tmp_path):
    """A database with the cat row removed; returns (db_path, removed id, a kept id)."""
    db_path = build_database(tmp_path)
    conn = sqlite3.connect(db_path)
    ids = dict(conn.execute("SELECT url, id FROM images"))
    conn.close()
    listed = tmp_path / "takedown.txt"
    listed.write_text(CAT_URL + "\n")
    result = CliRunner().invoke(
        cli, ["remove", "--db", str(db_path), "--urls", str(listed), "--reason", "artist opt-out"])
    assert result.exit_code == 0, result.output
    kept_id = next(image_id for url, image_id in ids.items() if url != CAT_URL)
    return db_path, ids[CAT_URL], kept_id


@pytest.mark.parametrize("suffix", ["", ".json", "?_format=json"])
def test_removed_row_page_gone(lens_datasette, removed_db, suffix):
    db_path, removed_id, _ = removed_db
    response = get(lens_datasette(db_path), f"/lens/images/{removed_id}{suffix}")
    assert response.status_code == 410
    assert "artist opt-out" in response.text
    assert f"Row {removed_id} was removed on " in response.text
    assert CAT_URL not in response.text


def test_removed_row_reason_escaped(lens_datasette, tmp_path):
    db_path = build_database(tmp_path)
    conn = sqlite3.connect(db_path)
    cat_id = conn.execute("SELECT id FROM images WHERE url = ?", (CAT_URL,)).fetchone()[0]
    conn.close()
    listed = tmp_path / "takedown.txt"
    listed.write_text(CAT_URL + "\n")
    reason = "<script>alert(1)</script>"
    CliRunner().invoke(cli, ["remove", "--db", str(db_path), "--urls", str(listed), "--reason", reason])
    response = get(lens_datasette(db_path), f"/lens/images/{cat_id}")
    assert response.status_code == 410
    assert reason not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


def test_removed_row_json_fields(lens_datasette, removed_db):
    db_path, removed_id, _ = removed_db
    response = get(lens_datasette(db_path), f"/lens/images/{removed_id}.json")
    body = response.json()
    assert body["ok"] is False
    assert body["status"] == 410
    assert body["reason"] == "artist opt-out"
    assert body["removed_at"].endswith("Z")


@pytest.mark.parametrize("path", ["/lens/images/987654", "/lens/images/987654.json"])
def test_unknown_row_page_not_found(lens_datasette, removed_db, path):
    db_path, _, _ = removed_db
    response = get(lens_datasette(db_path), path)
    assert response.status_code == 404


def test_kept_row_page_still_served(lens_datasette, removed_db):
    db_path, _, kept_id = removed_db
    response = get(lens_datasette(db_path), f"/lens/images/{kept_id}.json")
    assert response.status_code == 200


def test_removed_row_absent_from_table_and_search(lens_datasette, removed_db):
    db_path, removed_id, _ = removed_db
    datasette = lens_datasette(db_path)
    table = get(datasette, "/lens/images.json?_shape=array&_size=100")
    assert removed_id not in [row["id"] for row in table.json()]
    search = get(datasette, "/lens/images.json?_search=grumpy&_shape=array")
    assert search.json() == []


def test_removed_row_gone_under_base_url(lens_datasette, removed_db):
    db_path, removed_id, _ = removed_db
    datasette = lens_datasette(db_path, base_url="/lens-prefix/")
    # datasette.client puts base_url in front of the path, as a browser link would have it.
    response = get(datasette, f"/lens/images/{removed_id}.json")
    assert response.url.path == f"/lens-prefix/lens/images/{removed_id}.json"
    assert response.status_code == 410
