"""The domain facet: precomputed counts for the whole table, grouped counts for a search."""

import shutil
import sqlite3

import pytest

from tests.search_fixtures import build_database, corpus_rows, domain_id, get


@pytest.fixture(scope="module")
def corpus_db(tmp_path_factory):
    return build_database(tmp_path_factory.mktemp("facets"), corpus_rows())


@pytest.fixture
def ds(corpus_db, lens_datasette):
    return lens_datasette(corpus_db)


def domain_facet(ds, **params):
    data = get(ds, "/lens/images.json", **params).json()
    facet = data["facet_results"].get("domain_id")
    counts = {value["label"]: value["count"] for value in facet["results"]} if facet else None
    return data, facet, counts


def test_facets_whole_table_reads_domains_table(tmp_path, corpus_db, lens_datasette):
    # Overwrite one stored count: the facet of the unfiltered table must show it, which
    # proves it reads domains.image_count instead of grouping the images.
    db_path = shutil.copy(corpus_db, tmp_path / "lens.db")
    with sqlite3.connect(db_path) as conn:
        conn.execute("update domains set image_count = 999 where domain = 'example.org'")
    _, facet, counts = domain_facet(lens_datasette(db_path))
    assert counts == {"example.org": 999, "example.net": 13, "example.com": 8, "images.example.com": 8}
    assert next(iter(counts)) == "example.org"  # largest first
    assert facet["type"] == "domain"
    assert not facet["hideable"]


def test_facets_search_groups_matching_rows(ds):
    _, _, counts = domain_facet(ds, _search="photo")
    assert counts == {"example.com": 8, "images.example.com": 8, "example.org": 8}
    _, _, counts = domain_facet(ds, _search="cat")
    assert counts == {"example.net": 2}


def test_facets_blank_search_counts_whole_table(ds):
    assert domain_facet(ds, _search="  ")[2] == domain_facet(ds)[2]


def test_facets_size_limits_values_and_marks_truncated(ds, lens_datasette, corpus_db):
    ds = lens_datasette(corpus_db, {"facet_size": 2})
    for params in ({}, {"_search": "photo"}):
        _, facet, counts = domain_facet(ds, **params)
        assert len(counts) == 2
        assert facet["truncated"]


def test_facets_selected_value_toggles_off(ds, corpus_db):
    chosen = domain_id(corpus_db, "example.com")
    _, facet, counts = domain_facet(ds, _search="photo", domain_id=str(chosen))
    assert counts == {"example.com": 8}
    value = facet["results"][0]
    assert value["selected"]
    assert f"domain_id={chosen}" not in value["toggle_url"]


def test_facets_slow_search_is_reported_timed_out(tmp_path, lens_datasette):
    rows = [{"URL": f"https://host{i % 50}.example.com/{i}.jpg", "TEXT": f"common word {i}"}
            for i in range(5000)]
    ds = lens_datasette(build_database(tmp_path, rows), {"facet_time_limit_ms": 1})
    data = get(ds, "/lens/images.json", _search="common").json()
    facet = data["facet_results"]["domain_id"]
    assert facet["timed_out"]
    assert facet["results"] == []
    assert len(data["rows"]) == 50  # the page itself is still served
    html = get(ds, "/lens/images", _search="common").text
    assert "These facets timed out" in html


def test_facets_domain_type_on_other_column_is_400(ds):
    response = get(ds, "/lens/images.json", _facet_domain="url")
    assert response.status_code == 400
    assert "'url'" in response.json()["error"]
    assert "_facet=url" in response.json()["error"]


def test_facets_html_lists_domains(ds):
    html = get(ds, "/lens/images", _search="photo").text
    assert 'data-column="domain_id"' in html
    assert "images.example.com" in html


def test_facets_large_result_counts_first_matches_only(corpus_db, lens_datasette):
    ds = lens_datasette(corpus_db, {"facet_sample": 10})
    _, facet, counts = domain_facet(ds, _search="photo")  # 24 matches
    assert facet["sample"] == 10
    assert sum(counts.values()) == 10
    _, facet, counts = domain_facet(ds, _search="cat")
    assert facet["sample"] is None
    assert counts == {"example.net": 2}
    assert "(domain counts cover the first 10)" in get(ds, "/lens/images", _search="photo").text
    assert "domain counts cover" not in get(ds, "/lens/images", _search="cat").text
    assert "domain counts cover" not in get(ds, "/lens/images").text  # whole table: exact


@pytest.mark.parametrize("value", ["{", '{"column": "url"}', '{"other": 1}', "domain_id}"])
def test_facets_bad_domain_facet_argument_is_400(ds, value):
    response = get(ds, "/lens/images.json", _facet_domain=value)
    assert response.status_code == 400
    assert response.json()["error"]
