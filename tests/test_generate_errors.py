"""/-/generate and /-/compare refusing bad input and failing generators, with clear
statuses and messages. None of these requests reaches the CLIP model."""

import asyncio
import io

import pytest
from PIL import Image

from tests.fake_a1111 import FakeGenerator
from tests.lens_pages_db import build_db

ROWS = [
    {"url": "https://example.org/fox.jpg", "caption": "a red fox in the snow"},
    {"url": "https://example.org/cat.jpg", "caption": "a cat on a red sofa"},
]


@pytest.fixture(scope="module")
def small_db(tmp_path_factory):
    return build_db(tmp_path_factory.mktemp("generate_errors"), ROWS)


@pytest.fixture(scope="module")
def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), "blue").save(buffer, "PNG")
    return buffer.getvalue()


def generator_config(base_url="http://127.0.0.1:9", backend="automatic1111", **extra):
    return {"generator": dict({"backend": backend, "base_url": base_url, "timeout_s": 5}, **extra)}


def post(datasette, path, **kwargs):
    return asyncio.run(datasette.client.post(path, **kwargs))


def test_generate_form_shows_backend(lens_datasette, small_db):
    datasette = lens_datasette(small_db, generator_config())
    response = asyncio.run(datasette.client.get("/-/generate"))
    assert response.status_code == 200
    assert 'name="prompt"' in response.text
    assert "automatic1111" in response.text


def test_generate_form_says_when_disabled(lens_datasette, small_db):
    datasette = lens_datasette(small_db)
    response = asyncio.run(datasette.client.get("/-/generate.json"))
    assert response.json()["backend"] == "none"
    assert "/-/compare" in response.json()["disabled"]


@pytest.mark.parametrize(
    "body, words",
    [
        ({}, "prompt is required"),
        ({"prompt": "fox", "seed": "lucky"}, "seed='lucky' is not an integer"),
        ({"prompt": "fox", "steps": "1000"}, "steps='1000' is out of range"),
        ({"prompt": "fox", "width": "500"}, "width=500 is not a multiple of 8"),
        ({"prompt": "fox", "k": "0"}, "k='0' is out of range"),
        ({"prompt": "fox", "k": "many"}, "k='many' is not a whole number"),
    ],
)
@pytest.mark.parametrize("as_json", [True, False])
def test_generate_bad_input_is_400(lens_datasette, small_db, body, words, as_json):
    datasette = lens_datasette(small_db, generator_config())
    if as_json:
        response = post(datasette, "/-/generate.json", json=body)
        assert words in response.json()["error"]
    else:
        response = post(datasette, "/-/generate", data=body)
        assert words.replace("'", "&#39;") in response.text
    assert response.status_code == 400


@pytest.mark.parametrize(
    "content, words",
    [
        (b"{not json", "not valid JSON"),
        (b'["a list"]', "must be an object"),
    ],
)
def test_generate_malformed_json_is_400(lens_datasette, small_db, content, words):
    datasette = lens_datasette(small_db, generator_config())
    response = post(datasette, "/-/generate.json", content=content,
                    headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert words in response.json()["error"]


def test_generate_with_backend_none_is_400(lens_datasette, small_db):
    datasette = lens_datasette(small_db)
    response = post(datasette, "/-/generate.json", json={"prompt": "a fox"})
    assert response.status_code == 400
    assert "upload an image at /-/compare" in response.json()["error"]


def test_generate_missing_api_key_names_variable(lens_datasette, small_db, monkeypatch):
    monkeypatch.delenv("LENS_TEST_MISSING_KEY", raising=False)
    config = generator_config(backend="openai", api_key_env="LENS_TEST_MISSING_KEY")
    response = post(lens_datasette(small_db, config), "/-/generate.json", json={"prompt": "a fox"})
    assert response.status_code == 503
    assert "LENS_TEST_MISSING_KEY" in response.json()["error"]


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"files": {"image": ("notes.txt", b"hello, not an image", "text/plain")}},
         "is not an image Pillow can read"),
        ({"files": {"image": ("empty.png", b"", "image/png")}}, "is empty"),
        ({"files": {"picture": ("a.png", b"x", "image/png")}}, "No 'image' field"),
        ({"data": {"prompt": "fox"}}, "is not an upload"),
        ({"files": {"image": ("huge.png", b"\x89PNG" + b"0" * 5000, "image/png")}}, "limit is 4096 bytes"),
        ({"content": b"\x89PNG" + b"0" * 5000, "headers": {"content-type": "image/png"}},
         "the limit is 4096 bytes"),
        ({"files": {"image": ("a.png", b"\x89PNG", "image/png")}, "data": {"k": "-3"}}, "k='-3' is out of range"),
    ],
)
def test_compare_bad_upload_is_400(lens_datasette, small_db, kwargs, words):
    datasette = lens_datasette(small_db, {"max_image_bytes": 4096})
    response = post(datasette, "/-/compare.json", **kwargs)
    assert response.status_code == 400
    assert words in response.json()["error"]


def test_compare_form_page(lens_datasette, small_db):
    response = asyncio.run(lens_datasette(small_db).client.get("/-/compare"))
    assert response.status_code == 200
    assert 'enctype="multipart/form-data"' in response.text


@pytest.mark.parametrize("path", ["/-/generations/999", "/-/generations/999.json", "/-/generations/999.png"])
def test_generation_permalink_unknown_id_is_404(lens_datasette, small_db, path):
    response = asyncio.run(lens_datasette(small_db).client.get(path))
    assert response.status_code == 404


def test_generate_without_vector_index_is_503_before_generating(lens_datasette, small_db, png):
    with FakeGenerator(png) as server:
        datasette = lens_datasette(small_db, generator_config(server.base_url))
        response = post(datasette, "/-/generate.json", json={"prompt": "a fox"})
        assert server.requests == []
    assert response.status_code == 503
    assert "set vector_index" in response.json()["error"]


def test_compare_without_vector_index_is_503(lens_datasette, small_db, png):
    files = {"image": ("blue.png", png, "image/png")}
    response = post(lens_datasette(small_db), "/-/compare.json", files=files)
    assert response.status_code == 503
    assert "needs a vector index" in response.json()["error"]


def test_compare_huge_pixel_count_is_400(lens_datasette, small_db):
    # 8000 x 8000 of one colour compresses to a few hundred kilobytes.
    buffer = io.BytesIO()
    Image.new("L", (8000, 8000)).save(buffer, "PNG")
    files = {"image": ("bomb.png", buffer.getvalue(), "image/png")}
    response = post(lens_datasette(small_db), "/-/compare.json", files=files)
    assert response.status_code == 400
    assert "8000 x 8000 pixels; the limit is 40,000,000 pixels" in response.json()["error"]


@pytest.mark.parametrize("fields", [{}, {"csrftoken": "forged"}])
def test_compare_upload_with_cookie_needs_csrf_token(lens_datasette, small_db, png, fields):
    datasette = lens_datasette(small_db)
    form = asyncio.run(datasette.client.get("/-/compare"))
    cookies = {"ds_csrftoken": form.cookies["ds_csrftoken"]}
    files = {"image": ("blue.png", png, "image/png")}
    response = post(datasette, "/-/compare.json", files=files, data=fields, cookies=cookies)
    assert response.status_code == 403
    assert "CSRF token" in response.json()["error"]
