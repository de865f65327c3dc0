"""Caption search through Datasette: literal by default, FTS5 syntax with _searchmode=raw."""

import sqlite3

import pytest
import sqlite_utils
from datasette.plugins import pm

from plugins import register_plugins
from plugins.search import MAX_SEARCH_CHARS
from tests.search_fixtures import CAPTIONS, FILLER, build_database, corpus_rows, get

ALL_ROWS = len(CAPTIONS) + len(FILLER)


@pytest.fixture(scope="module")
def corpus_db(tmp_path_factory):
    return build_database(tmp_path_factory.mktemp("search"), corpus_rows())


@pytest.fixture
def ds(corpus_db, lens_datasette):
    return lens_datasette(corpus_db)


def column_values(data: dict, column: str) -> list:
    """Return one column of a default-shape table JSON response."""
    index = data["columns"].index(column)
    return [row[index] for row in data["rows"]]


def search(ds, text, **params):
    """Return the response and the captions of every row matching ``text``."""
    response = get(ds, "/lens/images.json", _search=text, _shape="array", _size="max", **params)
    captions = [row["caption"] for row in response.json()] if response.status_code == 200 else None
    return response, captions


@pytest.mark.parametrize(
    "text, expected",
    [
        ("park.", [CAPTIONS[0]]),  # the period is punctuation, not syntax
        ("PARK", [CAPTIONS[0]]),  # case folds
        ("t-shirt", [CAPTIONS[1]]),  # the phrase "t shirt", not "t NOT shirt"; row 9 has both words apart
        ("c++", [CAPTIONS[2]]),  # "+" is dropped: the word "c"
        ("black/white", [CAPTIONS[1]]),  # the phrase "black white"
        ("why?", [CAPTIONS[3]]),
        ("AND (", [CAPTIONS[4], CAPTIONS[10]]),  # the word "and"; the lone "(" adds nothing
        ("NOT", [CAPTIONS[4]]),  # an operator name is a plain word
        ("dvorak", [CAPTIONS[5]]),  # accents fold both ways
        ("Dvořák", [CAPTIONS[5]]),
        ("東京", [CAPTIONS[6]]),  # Japanese has no spaces: matched as a character sequence
        ("Москва", [CAPTIONS[7]]),
        ("sunse*", []),  # "*" is not a prefix operator in literal mode
        ('park" OR "cat', []),  # quotes cannot open an OR: all three words must appear
        ("caption:park", []),  # not a column filter: the phrase "caption park"
        ("cat hat", [CAPTIONS[11], CAPTIONS[12]]),  # every word, in any order
        ('"', []),  # a lone quote is an empty phrase, which matches nothing
        ("(", []),
        ("?!", []),  # punctuation only matches nothing
    ],
)
def test_search_literal_matches_text_as_words(ds, text, expected):
    response, captions = search(ds, text)
    assert response.status_code == 200, response.text
    assert sorted(captions) == sorted(expected)


@pytest.mark.parametrize("text", ["", " ", "   \t  "])
def test_search_blank_text_is_no_filter(ds, text):
    response, captions = search(ds, text)
    assert response.status_code == 200
    assert len(captions) == ALL_ROWS


@pytest.mark.parametrize(
    "text, expected",
    [
        ("sunse*", [CAPTIONS[0], CAPTIONS[10]]),  # prefix query
        ("NEAR(cat hat)", [CAPTIONS[11], CAPTIONS[12]]),
        ("park OR velinov", [CAPTIONS[0], CAPTIONS[5]]),
        ("cat NOT big", [CAPTIONS[11]]),
        ("caption:velinov", [CAPTIONS[5]]),  # column filter on the one indexed column
        ("dvorak", [CAPTIONS[5]]),
    ],
)
def test_search_raw_mode_accepts_fts5_syntax(ds, text, expected):
    response, captions = search(ds, text, _searchmode="raw")
    assert response.status_code == 200, response.text
    assert sorted(captions) == sorted(expected)


@pytest.mark.parametrize(
    "text, sqlite_error",
    [
        ('"', "unterminated string"),
        ("NEAR(", "syntax error"),
        ("t-shirt", "no such column: shirt"),  # FTS5 reads "-shirt" as a column filter
        ("AND", "syntax error"),
        ("nosuchcolumn:cat", "no such column"),
    ],
)
def test_search_raw_mode_syntax_error_is_400(ds, text, sqlite_error):
    for path in ("/lens/images.json", "/lens/images"):
        response = get(ds, path, _search=text, _searchmode="raw")
        assert response.status_code == 400, (path, response.text)
        message = response.json()["error"] if path.endswith(".json") else response.text
        assert sqlite_error in message
        assert "_searchmode=raw" in message
    assert repr(text) in get(ds, "/lens/images.json", _search=text, _searchmode="raw").json()["error"]


HOSTILE = [
    '"', '""', '"""', "'", "NEAR(", "NEAR(a b", "NEAR(cat hat, -1)", "*", "^", "^park", "-",
    "-park", ":", "caption:", "caption:park", "{", "{caption}:park", "}", ")", "((((", "AND",
    "OR", "NOT", "cat AND", "\x00", "park\x00cat", "x" * 10_000, "🙂", "🙂 park",
    "שלום עולם", "مرحبا بالعالم", "'; DROP TABLE images; --", "1' OR '1'='1", "%", "_",
    "\\", "\u202e", "\ufeff", "park" + " AND" * 300, "a" * 1001, "%00",
]


@pytest.mark.parametrize("mode", [None, "raw"])
@pytest.mark.parametrize("text", HOSTILE)
def test_search_hostile_text_never_5xx(ds, corpus_db, text, mode):
    params = {"_search": text}
    if mode:
        params["_searchmode"] = mode
    for path in ("/lens/images", "/lens/images.json", "/lens/images.json?_shape=array"):
        response = get(ds, path, **params)
        assert response.status_code in (200, 400), (path, response.status_code, response.text[:300])
        if mode is None and len(text) <= MAX_SEARCH_CHARS:
            assert response.status_code == 200, (path, response.text[:300])
        if response.status_code == 400 and ".json" in path:
            assert response.json()["error"]
    with sqlite3.connect(corpus_db) as conn:
        assert conn.execute("select count(*) from images").fetchone()[0] == ALL_ROWS


@pytest.mark.parametrize("encoded", ["%ED%A0%80", "%FF%FE", "%C3", "park%00cat"])
def test_search_invalid_utf8_never_5xx(ds, encoded):
    # A lone surrogate or a broken UTF-8 sequence cannot be built with httpx params.
    for path in ("/lens/images", "/lens/images.json"):
        response = get(ds, f"{path}?_search={encoded}")
        assert response.status_code == 200, response.text[:300]
        response = get(ds, f"{path}?_search={encoded}&_searchmode=raw")
        assert response.status_code in (200, 400), response.text[:300]


def test_search_too_long_text_is_400_naming_limit(ds):
    response = get(ds, "/lens/images.json", _search="x" * 10_000)
    assert response.status_code == 400
    assert "10,000 characters" in response.json()["error"]


def test_search_column_form_searches_caption(ds):
    response = get(ds, "/lens/images.json", _search_caption="velinov", _shape="array")
    assert [row["caption"] for row in response.json()] == [CAPTIONS[5]]


def test_search_unknown_column_is_400_listing_columns(ds):
    response = get(ds, "/lens/images.json", _search_url="velinov")
    assert response.status_code == 400
    assert "'url'" in response.json()["error"]
    assert "caption" in response.json()["error"]


def test_search_unknown_mode_is_400_listing_modes(ds):
    response = get(ds, "/lens/images.json", _search="cat", _searchmode="fuzzy")
    assert response.status_code == 400
    assert "'fuzzy'" in response.json()["error"]
    assert "raw" in response.json()["error"]


def test_search_box_shows_the_text_as_typed(ds):
    html = get(ds, "/lens/images", _search='t-shirt "<b>').text
    assert 'value="t-shirt &#34;&lt;b&gt;"' in html


def test_search_json_shapes_size_and_next_pages(ds):
    first = get(ds, "/lens/images.json", _search="photo", _size="10").json()
    assert len(first["rows"]) == 10
    assert first["next_url"]
    captions = column_values(first, "caption")
    next_url = first["next_url"]
    while next_url:
        page = get(ds, next_url.replace("http://localhost", "")).json()
        captions += column_values(page, "caption")
        next_url = page["next_url"]
    assert sorted(captions) == sorted(FILLER)
    objects = get(ds, "/lens/images.json", _search="photo", _shape="objects", _size="3").json()
    assert len(objects["rows"]) == 3
    assert objects["rows"][0]["caption"] in FILLER


def test_search_where_filter_still_works(ds):
    response = get(ds, "/lens/images.json", _search="photo", _where="id % 2 = 0", _shape="array")
    assert response.status_code == 200
    assert response.json()
    assert all(row["id"] % 2 == 0 for row in response.json())


def test_search_register_plugins_is_idempotent():
    register_plugins()
    register_plugins()
    assert pm.get_plugin("datasette.filters") is None
    names = [impl.plugin_name for impl in pm.hook.filters_from_request.get_hookimpls()]
    assert names.count("plugins.search") == 3  # where, through and the caption search


def test_search_other_tables_keep_datasette_search(tmp_path, lens_datasette):
    db_path = tmp_path / "other.db"
    notes = sqlite_utils.Database(db_path)["notes"]
    notes.insert_all([{"id": 1, "body": "alpha beta"}, {"id": 2, "body": "gamma"}], pk="id")
    notes.enable_fts(["body"])
    ds = lens_datasette(db_path)
    response = get(ds, "/other/notes.json", _search="alpha", _shape="array")
    assert [row["body"] for row in response.json()] == ["alpha beta"]


@pytest.mark.parametrize(
    "params, prefix",
    [
        ({}, True),  # search only, in id order: the subquery reads a prefix of the ids
        ({"_sort_desc": "id"}, False),
        ({"_sort": "caption"}, False),
        ({"_where": "id > 0"}, False),
        ({"source_id": "1"}, False),
    ],
)
def test_search_pages_reach_every_match_past_prefix(corpus_db, lens_datasette, params, prefix):
    # The id subquery stops after max(max_returned_rows, facet_sample) + 1 = 6 ids here,
    # so walking the 24 matches crosses that limit several times.
    ds = lens_datasette(corpus_db, {"count_cap": 5, "facet_sample": 3}, max_returned_rows=5)
    first = get(ds, "/lens/images.json", _search="photo", _size="4", **params).json()
    assert ("order by rowid limit" in first["query"]["sql"]) is prefix
    captions, page = [], first
    while True:
        captions += column_values(page, "caption")
        if not page["next_url"]:
            break
        page = get(ds, page["next_url"].replace("http://localhost", "")).json()
    assert sorted(captions) == sorted(FILLER)


def test_search_page_larger_than_cap_is_full(corpus_db, lens_datasette):
    # The id subquery must cover the largest page, not only count_cap + 1 ids.
    ds = lens_datasette(corpus_db, {"count_cap": 5})
    rows = get(ds, "/lens/images.json", _search="photo", _size="20", _shape="array").json()
    assert len(rows) == 20


@pytest.mark.parametrize(
    "params",
    [
        {"_search": "photo", "_next": "abc"},
        {"_search": "photo", "_next": "-5"},
        {"_search": "photo", "_next": "99999999999999999999999"},
        {"_search": "photo", "_size": "0"},
        {"_search": "photo", "_size": "-1"},
        {"_search": "photo", "_size": "abc"},
        {"_search": "photo", "_sort": "nosuchcolumn"},
        {"_search": "photo", "_sort_desc": "nosuchcolumn"},
        {"_search": "photo", "_sort": "id", "_sort_desc": "id"},
        {"_sort": "nosuchcolumn"},
        {"_search": "photo", "_facet_size": "abc"},
        {"_search": "photo", "_facet": "{"},
        {"_search": "photo", "_nocount": "lens", "_nosuggest": "0"},
        {"_search": "photo", "_shape": "nosuchshape"},
        {"_search": "photo", "_col": "nosuchcolumn"},
        {"_search_": "photo"},
        {"_search": "photo", "_unsafe": "\x00"},
        {"_search": "photo", "id__gt": "abc"},
        {"_search": "photo", "_timelimit": "abc"},
    ],
)
def test_search_odd_table_arguments_never_5xx(ds, params):
    for path in ("/lens/images", "/lens/images.json"):
        response = get(ds, path, **params)
        assert response.status_code < 500, (path, response.text[:300])
