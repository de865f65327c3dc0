"""Arguments for which Datasette 0.65 would return a 500 get a 400 that names them."""

import asyncio

import pyarrow as pa
import pytest

from ingest.pipeline import ingest_paths
from tests.ingest_files import write_table

COLUMNS = {
    "URL": [f"https://pics.example/{i}.jpg" for i in range(5)],
    "TEXT": [f"cat picture {i}" for i in range(5)],
    "AESTHETIC_SCORE": [5.0 + i for i in range(5)],
}


@pytest.fixture(scope="module")
def db_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("arguments")
    source = write_table(folder / "rows.parquet", COLUMNS, {"AESTHETIC_SCORE": pa.float64()})
    db_path = folder / "t.db"
    ingest_paths([source], db_path)
    return db_path


@pytest.mark.parametrize(
    "path, expected_status, expected_text",
    [
        ("/t/images.json?_facet_size=%C2%B2", 400, "_facet_size"),  # "²" passes str.isdigit()
        ("/t/images.json?_facet=%00", 400, "NUL"),
        ("/t/images.json?aesthetic__gt=%C2%B2&_search=cat", 400, "aesthetic__gt"),
        ("/t/images.json?id__gt=99999999999999999999", 400, "64 bits"),  # beyond SQLite INTEGER
        ("/t/images.json?_search_rank=cat", 400, "searchable columns are caption"),  # FTS5 hidden column
        ("/t/images.json?_next=abc", 400, "_next"),
        ("/t/images.json?_search=cat&_next=1e5", 400, "_next"),
        ("/t/images?_next=%C2%B2", 400, "_next"),
        ("/t/images/999999999999999999999999999999.json", 404, "not found"),
        ("/t/images.json?_search=a%00b", 200, ""),  # NUL in search text splits the word
        ("/t/images.json?aesthetic__gt=6", 200, ""),
    ],
)
def test_images_table_bad_arguments(lens_datasette, db_path, path, expected_status, expected_text):
    response = asyncio.run(lens_datasette(db_path).client.get(path))
    assert response.status_code == expected_status
    assert expected_text in response.text
