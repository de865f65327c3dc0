"""The image grid (/-/grid): sources, score filters, paging, hidden unsafe thumbnails."""

import asyncio

import pytest

from ingest.remove import remove_by_urls
from tests.lens_pages_db import build_db

ROWS = [  # id: caption, aesthetic, punsafe, pwatermark
    {"url": "https://a.example/1.jpg", "caption": "red cat", "aesthetic": 6.5, "punsafe": 0.01, "pwatermark": 0.1},
    {"url": "https://a.example/2.jpg", "caption": "blue cat", "aesthetic": 4.0, "punsafe": 0.2, "pwatermark": 0.9},
    {"url": "https://a.example/3.jpg", "caption": "cat nude", "aesthetic": 5.5, "punsafe": 0.97, "pwatermark": 0.1},
    {"url": "https://a.example/4.jpg", "caption": "green dog", "aesthetic": 7.0, "punsafe": 0.01, "pwatermark": 0.3},
    {"url": "https://a.example/5.jpg", "caption": "red dog and cat", "aesthetic": None, "punsafe": 0.05, "pwatermark": 0.2},
    {"url": "https://a.example/6.jpg", "caption": "sky", "aesthetic": 5.0, "punsafe": 0.01, "pwatermark": 0.05},
]


@pytest.fixture
def db_path(tmp_path):
    return build_db(tmp_path, ROWS)


def get(lens_datasette, db_path, path, plugin_config=None):
    return asyncio.run(lens_datasette(db_path, plugin_config).client.get(path))


def ids(lens_datasette, db_path, query):
    response = get(lens_datasette, db_path, f"/-/grid.json?{query}")
    assert response.status_code == 200, response.text
    return [row["id"] for row in response.json()["rows"]]


@pytest.mark.parametrize("query, expected", [
    ("", [6, 5, 4, 3, 2, 1]),  # no source: every image, newest first
    ("q=cat", [5, 3, 2, 1]),
    ("q=red+cat", [5, 1]),  # every word, anywhere
    ("q=red+cat&_phrase=1", [1]),  # the words as one phrase
    ("q=cat&aesthetic_min=5.5", [3, 1]),  # a row with no score fails a score filter
    ("q=cat&punsafe_max=0.1", [5, 1]),
    ("pwatermark_max=0.2", [6, 5, 3, 1]),
    ("aesthetic_min=5&punsafe_max=0.5&pwatermark_max=0.5", [6, 4, 1]),
    ("q=nothingmatches", []),
    ("q=+++", [6, 5, 4, 3, 2, 1]),  # a blank query is no query
])
def test_grid_sources_and_filters(lens_datasette, db_path, query, expected):
    assert ids(lens_datasette, db_path, query) == expected


def test_grid_next_pages_cover_every_row(lens_datasette, db_path):
    seen, path = [], "/-/grid.json?_size=2"
    while path:
        data = get(lens_datasette, db_path, path).json()
        seen += [row["id"] for row in data["rows"]]
        path = data["next_url"] and data["next_url"].replace("/-/grid?", "/-/grid.json?")
    assert seen == [6, 5, 4, 3, 2, 1]


def test_grid_hides_unsafe_thumbnails_unless_asked(lens_datasette, db_path):
    rows = {r["id"]: r for r in get(lens_datasette, db_path, "/-/grid.json?q=cat").json()["rows"]}
    assert rows[3]["hidden"] and rows[3]["thumbnail"] is None
    assert not rows[1]["hidden"]
    assert rows[1]["thumbnail"] == ROWS[0]["url"]
    shown = get(lens_datasette, db_path, "/-/grid.json?q=cat&_unsafe=1").json()["rows"]
    assert not any(row["hidden"] for row in shown)
    html = get(lens_datasette, db_path, "/-/grid?q=cat").text
    assert ROWS[2]["url"] not in html
    assert "Show them" in html


def test_grid_threshold_comes_from_the_config(lens_datasette, db_path):
    data = get(lens_datasette, db_path, "/-/grid.json?q=cat", {"punsafe_threshold": 0.1}).json()
    assert sorted(row["id"] for row in data["rows"] if row["hidden"]) == [2, 3]


def test_grid_never_shows_removed_rows(lens_datasette, db_path, tmp_path):
    urls = tmp_path / "urls.txt"
    urls.write_text(ROWS[0]["url"] + "\n")
    remove_by_urls(db_path, urls, "opt-out")
    assert ids(lens_datasette, db_path, "q=cat") == [5, 3, 2]
    assert 1 not in ids(lens_datasette, db_path, "")


def test_grid_tiles_are_lazy_row_links(lens_datasette, db_path):
    html = get(lens_datasette, db_path, "/-/grid?q=dog").text
    assert '<a class="lens-tile" href="/lens/images/4" title="green dog"' in html
    assert 'loading="lazy"' in html
    assert "/-/static-plugins/plugins/grid.js" in html
    script = get(lens_datasette, db_path, "/-/static-plugins/plugins/grid.js")
    assert script.status_code == 200
    assert "ArrowDown" in script.text


def test_grid_shape_array_returns_the_rows_only(lens_datasette, db_path):
    rows = get(lens_datasette, db_path, "/-/grid.json?q=dog&_shape=array").json()
    assert [row["id"] for row in rows] == [5, 4]


def test_grid_similar_without_index_explains_setup(lens_datasette, db_path):
    data = get(lens_datasette, db_path, "/-/grid.json?similar=1").json()
    assert data["rows"] == []
    assert "Similarity search is not configured" in data["message"]
    assert "--index" in get(lens_datasette, db_path, "/-/grid?similar=1").text


@pytest.mark.parametrize("query, message", [
    ("aesthetic_min=high", "aesthetic_min='high' is not a number"),
    ("aesthetic_min=11", "aesthetic_min='11' is out of range"),
    ("aesthetic_min=nan", "aesthetic_min='nan' is out of range"),
    ("punsafe_max=-0.1", "punsafe_max='-0.1' is out of range"),
    ("pwatermark_max=1e9", "pwatermark_max='1e9' is out of range"),
    ("_size=0", "_size='0' is out of range"),
    ("_size=5000", "_size='5000' is out of range"),
    ("_size=ten", "_size='ten' is not a whole number"),
    ("_next=abc", "_next='abc' is not a whole number"),
    ("similar=row7", "similar='row7' is not a whole number"),
    ("q=cat&similar=1", "not both"),
    ("q=%28&_phrase=1", "has no letters or digits"),
])
def test_grid_bad_parameters_are_a_400_naming_them(lens_datasette, db_path, query, message):
    response = get(lens_datasette, db_path, f"/-/grid.json?{query}")
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_grid_pages_listed_in_menu(lens_datasette, db_path):
    html = get(lens_datasette, db_path, "/").text
    for href, label in [("/-/grid", "Image grid"), ("/-/name", "Name report (artists)"),
                        ("/-/keywords", "Keyword explorer")]:
        assert f'<a href="{href}">{label}</a>' in html
