"""The grid's similarity source (/-/grid?similar=ROWID) over a real FAISS index."""

import asyncio

import numpy as np
import pytest

from laionlens.vectors import build_index
from tests.lens_pages_db import build_db

# Two clusters of vectors: rows 1-4 ("cats") near one direction, rows 5-8 ("cars") near
# another, so the neighbours of a cat are the other cats, nearest first.
GROUPS = {"cat": [1, 2, 3, 4], "car": [5, 6, 7, 8]}
ROWS = [{"url": f"https://v.example/{i}.jpg", "caption": f"{name} {i}",
         "punsafe": 0.9 if i == 3 else 0.01, "aesthetic": 4.0 + i * 0.25}
        for name, members in GROUPS.items() for i in members]


@pytest.fixture
def lens_with_index(tmp_path, lens_datasette):
    db_path = build_db(tmp_path, ROWS)
    rng = np.random.default_rng(7)
    centres = {name: rng.normal(size=16) for name in GROUPS}
    drift = rng.normal(size=16)  # moving further along it lowers the cosine to the centre
    ids, vectors = [], []
    for name, members in GROUPS.items():
        for rank, row_id in enumerate(members):
            ids.append(row_id)
            vectors.append(centres[name] + 0.1 * rank * drift)
    index_path = tmp_path / "lens.faiss"
    build_index(index_path, np.array(ids), np.array(vectors), model_name="ViT-B-32",
                pretrained="laion2b_s34b_b79k", checkpoint=None, preprocess_id="test")
    return lens_datasette(db_path, {"vector_index": str(index_path)})


def get_json(datasette, path):
    response = asyncio.run(datasette.client.get(path))
    assert response.status_code == 200, response.text
    return response.json()


def test_grid_similar_shows_the_rows_nearest_neighbours_first(lens_with_index):
    data = get_json(lens_with_index, "/-/grid.json?similar=1")
    assert data["mode"] == "similar"
    assert data["message"] is None
    ids = [row["id"] for row in data["rows"]]
    assert 1 not in ids
    assert ids[:3] == [2, 3, 4]  # the other cats, by distance
    similarities = [row["similarity"] for row in data["rows"]]
    assert similarities == sorted(similarities, reverse=True)


def test_grid_similar_applies_filters_and_hides_unsafe(lens_with_index):
    data = get_json(lens_with_index, "/-/grid.json?similar=1&aesthetic_min=4.6")
    assert all(row["aesthetic"] >= 4.6 for row in data["rows"])
    rows = {row["id"]: row for row in get_json(lens_with_index, "/-/grid.json?similar=1")["rows"]}
    assert rows[3]["hidden"] and rows[3]["thumbnail"] is None


def test_grid_similar_pages_by_offset(lens_with_index):
    first = get_json(lens_with_index, "/-/grid.json?similar=1&_size=3")
    second = get_json(lens_with_index, first["next_url"].replace("/-/grid?", "/-/grid.json?"))
    assert [row["id"] for row in first["rows"]] == [2, 3, 4]
    assert {row["id"] for row in second["rows"]} <= {5, 6, 7, 8} and second["rows"]


def test_grid_similar_missing_row_is_404(lens_with_index):
    response = asyncio.run(lens_with_index.client.get("/-/grid.json?similar=999"))
    assert response.status_code == 404
    assert "No image with id 999" in response.json()["error"]
