"""The keyword explorer (/-/keywords): counts, share, lift-ranked terms, comparison."""

import asyncio
import sqlite3

import pytest

from ingest.remove import remove_by_urls
from tests.lens_pages_db import build_db

# "castle" comes with "medieval" in every caption that has it, while "photo" is in
# nearly every caption of the dataset, so medieval must rank far above photo by lift.
CAPTIONS = (
    ["medieval castle photo on a hill"] * 4
    + ["old castle photo, medieval towers"] * 2
    + ["stone castle photo"]
    + ["cat photo"] * 6
    + ["dog photo"] * 4
    + ["cat and dog photo"] * 2
    + ["medieval sword"]
)
ROWS = [{"url": f"https://img.example/{i}.jpg", "caption": c} for i, c in enumerate(CAPTIONS)]


@pytest.fixture
def db_path(tmp_path):
    return build_db(tmp_path, ROWS)


def get_json(lens_datasette, db_path, path, plugin_config=None):
    response = asyncio.run(lens_datasette(db_path, plugin_config).client.get(path))
    return response.status_code, response.json()


def test_keywords_counts_word_and_share(lens_datasette, db_path):
    status, data = get_json(lens_datasette, db_path, "/-/keywords.json?q=castle")
    assert status == 200
    figures = data["q"]
    assert figures["count"] == 7
    assert figures["count_exact"]
    assert data["dataset_rows"] == len(CAPTIONS)
    assert figures["share"] == pytest.approx(7 / len(CAPTIONS))
    assert figures["sample_size"] == 7


def test_keywords_ranks_co_terms_by_lift(lens_datasette, db_path):
    _, data = get_json(lens_datasette, db_path, "/-/keywords.json?q=castle")
    terms = {row["term"]: row for row in data["q"]["co_terms"]}
    medieval, photo = terms["medieval"], terms["photo"]
    assert (medieval["count"], medieval["sample"], medieval["overall"]) == (6, 7, 7)
    assert medieval["lift"] == pytest.approx((6 / 7) / (7 / len(CAPTIONS)))
    assert photo["lift"] == pytest.approx((7 / 7) / (19 / len(CAPTIONS)))
    assert [row["term"] for row in data["q"]["co_terms"]].index("medieval") < list(terms).index("photo")
    assert "castle" not in terms  # the keyword itself
    assert "on" not in terms  # a stopword
    assert "stone" not in terms  # in one sampled caption only: too few to rank


def test_keywords_compares_two_terms_with_their_overlap(lens_datasette, db_path):
    _, data = get_json(lens_datasette, db_path, "/-/keywords.json?q=cat&vs=dog")
    assert (data["q"]["count"], data["vs"]["count"]) == (8, 6)
    assert data["both"] == {"count": 2, "exact": True}


def test_keywords_counts_a_phrase_up_to_the_cap(lens_datasette, db_path):
    _, data = get_json(lens_datasette, db_path, "/-/keywords.json?q=castle+photo",
                       plugin_config={"count_cap": 3})
    assert (data["q"]["count"], data["q"]["count_exact"]) == (3, False)
    html = asyncio.run(lens_datasette(db_path, {"count_cap": 3}).client.get(
        "/-/keywords?q=castle+photo")).text
    assert "more than 3" in html


def test_keywords_html_states_the_sample_size(lens_datasette, db_path):
    response = asyncio.run(lens_datasette(db_path).client.get("/-/keywords?q=castle&vs=sword"))
    assert response.status_code == 200
    assert "From a sample of the 7 matching captions" in response.text
    assert "From a sample of the 1 matching captions" in response.text
    assert response.text.count('class="lens-keyword"') == 2


@pytest.mark.parametrize("query, message", [
    ("q=%3F%3F", "has no letters or digits"),
    ("q=cat&vs=%2A", "has no letters or digits"),  # a bad second term is reported too
    ("vs=cat", "Parameter 'q' is required"),
])
def test_keywords_bad_query_is_a_400(lens_datasette, db_path, query, message):
    status, data = get_json(lens_datasette, db_path, f"/-/keywords.json?{query}")
    assert status == 400
    assert message in data["error"]


def test_keywords_counts_leave_out_removed_rows(lens_datasette, db_path, tmp_path):
    urls = tmp_path / "urls.txt"
    urls.write_text(ROWS[0]["url"] + "\n" + ROWS[1]["url"] + "\n")
    remove_by_urls(db_path, urls, "opt-out")
    _, data = get_json(lens_datasette, db_path, "/-/keywords.json?q=castle")
    assert data["q"]["count"] == 5
    assert data["dataset_rows"] == len(CAPTIONS) - 2
    assert all(item["id"] not in (1, 2) for item in data["q"]["examples"])


def test_keywords_vocab_table_is_hidden(lens_datasette, db_path):
    datasette = lens_datasette(db_path)
    asyncio.run(datasette.client.get("/-/keywords.json?q=castle"))
    tables = asyncio.run(datasette.client.get(f"/{db_path.stem}.json")).json()["tables"]
    assert "images_fts_vocab" not in {table["name"] for table in tables}


def test_keywords_startup_survives_a_database_without_images(lens_datasette, tmp_path):
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE notes (id INTEGER PRIMARY KEY)")
    response = asyncio.run(lens_datasette(other).client.get("/-/keywords.json?q=cat"))
    assert response.status_code == 404
    assert "No attached database has an images table" in response.json()["error"]


def test_keywords_background_follows_removals(lens_datasette, db_path, tmp_path):
    datasette = lens_datasette(db_path)
    before = asyncio.run(datasette.client.get("/-/keywords.json?q=castle")).json()
    assert before["background_size"] == len(CAPTIONS)
    urls = tmp_path / "urls.txt"
    urls.write_text(ROWS[0]["url"] + "\n" + ROWS[1]["url"] + "\n")
    remove_by_urls(db_path, urls, "opt-out")
    after = asyncio.run(datasette.client.get("/-/keywords.json?q=castle")).json()
    assert after["dataset_rows"] == len(CAPTIONS) - 2
    assert after["background_size"] == len(CAPTIONS) - 2
    assert after["background_complete"]
