"""Result counts of the images table: exact up to count_cap, "more than N" beyond it."""

import pytest

from tests.search_fixtures import CAPTIONS, FILLER, build_database, corpus_rows, domain_id, get

CAP = 10


@pytest.fixture(scope="module")
def corpus_db(tmp_path_factory):
    return build_database(tmp_path_factory.mktemp("counts"), corpus_rows())


@pytest.fixture
def ds(corpus_db, lens_datasette):
    return lens_datasette(corpus_db, {"count_cap": CAP})


@pytest.mark.parametrize(
    "params, count, exact",
    [
        ({"_search": "cat"}, 2, True),
        ({"_search": "nothingmatchesthis"}, 0, True),
        ({"_search": "photo"}, CAP, False),  # 24 matches: more than the cap
        ({"_search": "photo", "_where": "id > 30"}, 7, True),  # ids 31 to 37
        ({"_search": "photo", "domain_id": "example.com"}, 8, True),  # every third filler row
        ({}, CAP, False),  # the whole table
    ],
)
def test_counts_json_exact_up_to_cap(ds, corpus_db, params, count, exact):
    if "domain_id" in params:
        params = dict(params, domain_id=domain_id(corpus_db, params["domain_id"]))
    data = get(ds, "/lens/images.json", **params).json()
    assert data["lens_count"] == {"count": count, "exact": exact, "cap": CAP, "timed_out": False}
    # Datasette's own key contains the count only when it is exact.
    assert data["filtered_table_rows_count"] == (count if exact else None)


def test_counts_html_says_more_than_cap(ds):
    html = get(ds, "/lens/images", _search="photo").text
    assert f"More than {CAP} rows" in html
    assert "2 rows" in get(ds, "/lens/images", _search="cat").text
    assert "1 row<" in get(ds, "/lens/images", _search="velinov").text


def test_counts_datasette_full_count_is_skipped(ds):
    # With the cap in place Datasette's count(*) never runs: its query would count all 24.
    data = get(ds, "/lens/images.json", _search="photo", _size="5").json()
    assert data["filtered_table_rows_count"] is None
    assert "_nocount=lens" in data["next_url"]


def test_counts_next_page_keeps_count(ds):
    first = get(ds, "/lens/images.json", _search="photo", _size="5").json()
    second = get(ds, first["next_url"].replace("http://localhost", "")).json()
    assert second["lens_count"]["count"] == CAP
    assert {row[0] for row in first["rows"]}.isdisjoint(row[0] for row in second["rows"])


def test_counts_user_nocount_turns_counting_off(ds):
    data = get(ds, "/lens/images.json", _search="cat", _nocount="1").json()
    assert "lens_count" not in data
    assert data["filtered_table_rows_count"] is None


def test_counts_array_shape_is_plain_list(ds):
    rows = get(ds, "/lens/images.json", _search="cat", _shape="array").json()
    assert sorted(row["caption"] for row in rows) == sorted(CAPTIONS[11:13])


def test_counts_other_tables_keep_datasette_count(ds):
    data = get(ds, "/lens/domains.json").json()
    assert "lens_count" not in data
    assert data["filtered_table_rows_count"] == 4  # example.net plus the three filler hosts


def test_counts_bad_request_still_reports_error(ds):
    response = get(ds, "/lens/images.json", _search='"', _searchmode="raw")
    assert response.status_code == 400
    assert "unterminated string" in response.json()["error"]


def test_counts_default_cap_counts_everything_small(corpus_db, lens_datasette):
    ds = lens_datasette(corpus_db)
    data = get(ds, "/lens/images.json").json()
    assert data["lens_count"]["cap"] == 10_000
    assert data["filtered_table_rows_count"] == len(CAPTIONS) + len(FILLER)


def test_counts_csv_export_skips_count(ds):
    response = get(ds, "/lens/images.csv", _search="photo", _stream="1", _size="5")
    assert response.status_code == 200
    lines = response.text.strip().splitlines()
    assert len(lines) == 1 + len(FILLER)  # header, then every match across pages


def test_counts_lone_search_counts_past_page_prefix(corpus_db, lens_datasette):
    # The page's id subquery stops after 6 ids, the count's own after count_cap + 1.
    ds = lens_datasette(corpus_db, {"count_cap": 30, "facet_sample": 3}, max_returned_rows=5)
    data = get(ds, "/lens/images.json", _search="photo", _size="4").json()
    assert data["lens_count"]["count"] == len(FILLER)
    assert data["lens_count"]["exact"]


def test_counts_slow_count_is_reported_timed_out(tmp_path, lens_datasette):
    rows = [{"URL": f"https://example.com/{i}.jpg", "TEXT": f"common word {i}"} for i in range(5000)]
    ds = lens_datasette(build_database(tmp_path, rows), {"count_time_limit_ms": 1})
    data = get(ds, "/lens/images.json", _search="common", _where="width > 0").json()
    assert data["lens_count"]["timed_out"]
    assert data["lens_count"]["count"] is None
    assert len(data["rows"]) == 50  # the page is still served
    html = get(ds, "/lens/images", _search="common", _where="width > 0").text
    assert "Counting the rows took too long" in html
