"""The committed demo shard: reproducible, synthetic, and served by LAION Lens."""

import importlib.util
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow.parquet as pq
import pytest

from ingest.pipeline import ingest_paths
from tests.search_fixtures import get

DEMO = Path(__file__).resolve().parents[1] / "demo"
RESERVED = ("example.com", "example.net", "example.org")


def load_make_sample():
    spec = importlib.util.spec_from_file_location("make_sample", DEMO / "make_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def demo_table():
    return pq.read_table(DEMO / "aesthetics-6plus-demo.parquet")


def test_demo_file_is_what_make_sample_writes(demo_table):
    assert demo_table.equals(load_make_sample().sample_table(400, 6))


def test_demo_has_aesthetics_6plus_columns(demo_table):
    assert demo_table.column_names == [
        "URL", "TEXT", "WIDTH", "HEIGHT", "similarity", "punsafe", "pwatermark",
        "AESTHETIC_SCORE", "hash", "__index_level_0__",
    ]
    assert str(demo_table.schema.field("HEIGHT").type) == "double"
    assert str(demo_table.schema.field("hash").type) == "int64"


def test_demo_urls_use_reserved_domains_only(demo_table):
    for url in demo_table.column("URL").to_pylist():
        host = urlsplit(url).hostname
        assert host in RESERVED or host.endswith(tuple("." + d for d in RESERVED)), url


def test_demo_covers_the_interesting_cases(demo_table):
    captions = demo_table.column("TEXT").to_pylist()
    assert None in captions
    assert any(c and "ř" in c for c in captions)  # accented names
    assert any(c and "東京" in c for c in captions)
    assert any(c and "Зимний" in c for c in captions)
    assert sum(p > 0.5 for p in demo_table.column("punsafe").to_pylist()) >= 3
    assert any("//www." in url for url in demo_table.column("URL").to_pylist())


def test_demo_ingests_and_serves(tmp_path, lens_datasette):
    db_path = tmp_path / "demo.db"
    report = ingest_paths([DEMO / "aesthetics-6plus-demo.parquet"], db_path)
    assert report.rows_written == 400
    ds = lens_datasette(db_path)
    assert get(ds, "/demo/images.json").json()["filtered_table_rows_count"] == 400
    rows = get(ds, "/demo/images.json", _search="dvoranek", _shape="array").json()
    assert rows
    assert all("Dvořánek" in row["caption"] for row in rows)
    html = get(ds, "/demo/images", _search="lighthouse").text
    assert 'loading="lazy"' in html
    assert "show unsafe thumbnails" in html
    facet = get(ds, "/demo/images.json").json()["facet_results"]["domain_id"]
    assert {value["label"] for value in facet["results"]} <= {
        "example.com", "images.example.com", "cdn.example.net", "example.org",
        "shop.example.com", "example.net", "media.example.org", "art.example.com",
    }
