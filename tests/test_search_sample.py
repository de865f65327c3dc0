"""Search over the real 10,000-row LAION sample (skipped unless LAIONLENS_SAMPLE is set)."""

import pytest

from ingest.pipeline import ingest_paths
from tests.search_fixtures import get


@pytest.fixture(scope="module")
def sample_db(sample_path, tmp_path_factory):
    db_path = tmp_path_factory.mktemp("sample") / "sample.db"
    ingest_paths([sample_path], db_path)
    return db_path


@pytest.fixture
def ds(sample_db, lens_datasette):
    return lens_datasette(sample_db)


def test_sample_search_finds_artist_credit(ds):
    data = get(ds, "/sample/images.json", _search="velinov").json()
    captions = [row[data["columns"].index("caption")] for row in data["rows"]]
    assert "Tavern Brawl by velinov" in captions
    assert data["filtered_table_rows_count"] == len(captions)


def test_sample_search_array_shape(ds):
    rows = get(ds, "/sample/images.json", _search="velinov", _shape="array").json()
    assert any(row["caption"] == "Tavern Brawl by velinov" for row in rows)
    assert all("velinov" in row["caption"].lower() for row in rows)


def test_sample_search_phrase_and_punctuation(ds):
    rows = get(ds, "/sample/images.json", _search="Tavern Brawl by", _shape="array").json()
    assert "Tavern Brawl by velinov" in [row["caption"] for row in rows]
    for text in ("t-shirt", "c++", '"', "AND (", "park."):
        assert get(ds, "/sample/images.json", _search=text).status_code == 200


def test_sample_domains_table_served(ds):
    data = get(ds, "/sample/domains.json", _shape="array", _size="5").json()
    assert len(data) == 5
    assert all(row["image_count"] >= 1 for row in data)
    assert data[0]["image_count"] >= data[-1]["image_count"]  # sorted by image_count desc
    facet = get(ds, "/sample/images.json").json()["facet_results"]["domain_id"]
    assert facet["results"][0]["count"] == data[0]["image_count"]
