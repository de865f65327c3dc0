"""Routes of LAION Lens answer 405 with an Allow header for methods they do not take."""

import asyncio

import pytest

from tests.lens_pages_db import build_db

ROWS = [{"url": "https://img.example/1.jpg", "caption": "a castle photo"}]


@pytest.fixture
def datasette(tmp_path, lens_datasette):
    return lens_datasette(build_db(tmp_path, ROWS))


@pytest.mark.parametrize("method, path, allow", [
    ("PUT", "/-/compare.json", "GET, HEAD, POST"),
    ("DELETE", "/-/generate.json", "GET, HEAD, POST"),
    ("DELETE", "/-/generations/1.json", "GET, HEAD"),
    ("PATCH", "/-/similar.json", "GET, HEAD, POST"),
    ("POST", "/-/grid.json", "GET, HEAD"),
    ("PUT", "/-/name.json?name=castle", "GET, HEAD"),
    ("POST", "/-/keywords.json?q=castle", "GET, HEAD"),
    ("DELETE", "/-/name/export.csv?name=castle", "GET, HEAD"),
])
def test_routes_reject_other_methods(datasette, method, path, allow):
    response = asyncio.run(datasette.client.request(method, path))
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert f"Method {method} is not allowed" in response.text


@pytest.mark.parametrize("path", ["/-/grid.json", "/-/keywords.json?q=castle", "/-/name.json?name=castle"])
def test_routes_still_answer_get(datasette, path):
    assert asyncio.run(datasette.client.get(path)).status_code == 200
