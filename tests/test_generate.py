"""Generation through a local AUTOMATIC1111-compatible server (and an OpenAI-compatible
one), uploads, and reopened permalinks, end to end.

Everything is real: SQLite, Datasette, a FAISS index of skimage photos embedded with
a tiny random-weight CLIP model, and HTTP to 127.0.0.1.
"""

import asyncio
import hashlib
import io
import logging
import shutil
import sqlite3

import numpy as np
import pytest
from PIL import Image

from tests.fake_a1111 import MODEL_NAME, FakeGenerator
from tests.lens_pages_db import build_db

pytestmark = pytest.mark.clip

# skimage photo name -> caption of the training row that contains it.
PHOTOS = {
    "astronaut": "portrait of an astronaut in a white space suit",
    "coffee": "a cup of coffee on a saucer",
    "chelsea": "orange tabby cat looking up",
    "rocket": "rocket on the launch pad at dawn",
    "hubble_deep_field": "deep field of distant galaxies",
}
# Rows with no image in the index, so caption counts differ from neighbour counts.
EXTRA_CAPTIONS = [
    "a cat and a cup of coffee",
    "astronaut cat sticker",
    "space suit for a cat",
    "Café au lait dans une tasse",
]
# A random-weight model puts every photo close to every other (cosines around 0.9),
# so the near-copy threshold is set where only an identical image reaches it.
THRESHOLD = 0.995
SECRET = "sk-lens-test-31b7e0c4-never-log-me"


def photo(name: str) -> Image.Image:
    from skimage import data

    return Image.fromarray(getattr(data, name)()).convert("RGB")


def png_of(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, tiny_clip, tiny_encoder):
    """A database of captioned photos, their vector index and local image copies."""
    from laionlens.vectors import build_index

    folder = tmp_path_factory.mktemp("generate_corpus")
    rows = [{"url": f"https://photos.example.org/{name}.png", "caption": caption}
            for name, caption in PHOTOS.items()]
    rows += [{"url": f"https://misc.example.net/{i}.jpg", "caption": c} for i, c in enumerate(EXTRA_CAPTIONS)]
    db_path = build_db(folder, rows)
    conn = sqlite3.connect(db_path)
    ids = {url: rowid for rowid, url in conn.execute("SELECT id, url FROM images")}
    conn.close()
    photo_ids = {name: ids[f"https://photos.example.org/{name}.png"] for name in PHOTOS}
    images_dir = folder / "images"
    images_dir.mkdir()
    for name, rowid in photo_ids.items():
        photo(name).save(images_dir / f"{rowid}.png")
    encoder = tiny_encoder
    vectors = encoder.encode_images([photo(name) for name in PHOTOS])
    build_index(folder / "photos.faiss", np.array(list(photo_ids.values())), vectors,
                model_name=encoder.model_name, pretrained=None, checkpoint=encoder.checkpoint,
                preprocess_id=encoder.preprocess_id)
    config = dict(tiny_clip.plugin_config, vector_index=str(folder / "photos.faiss"), clip_device="cpu",
                  images_dir=str(images_dir), replication_threshold=THRESHOLD, k_default=3)
    return {"db": db_path, "ids": photo_ids, "config": config}


@pytest.fixture
def lens_db(corpus, tmp_path):
    """A private copy of the corpus database, since generations are written into it."""
    return shutil.copy(corpus["db"], tmp_path / "lens.db")


def make_datasette(lens_datasette, corpus, db_path, **generator):
    return lens_datasette(db_path, dict(corpus["config"], generator=generator))


def a1111(base_url, **extra):
    return dict({"backend": "automatic1111", "base_url": base_url, "timeout_s": 30}, **extra)


def run(coroutine):
    return asyncio.run(coroutine)


def test_generate_returns_training_image_at_rank_one(lens_datasette, corpus, lens_db, caplog):
    caplog.set_level(logging.INFO, logger="laionlens")
    with FakeGenerator(png_of(photo("astronaut"))) as server:
        datasette = make_datasette(lens_datasette, corpus, lens_db, **a1111(server.base_url))
        response = run(datasette.client.post("/-/generate.json", json={"prompt": "astronaut", "seed": 42}))
        sent = server.requests[0]["json"]
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["neighbours"][0]["id"] == corpus["ids"]["astronaut"]
    assert result["neighbours"][0]["similarity"] == pytest.approx(1.0, abs=1e-3)
    assert result["neighbours"][0]["caption"] == PHOTOS["astronaut"]
    assert result["neighbours"][0]["phash_distance"] == 0
    assert result["verdict"]["near_copy"] is True
    assert result["verdict"]["phash_near_copy"] is True
    assert result["verdict"]["threshold"] == THRESHOLD
    assert (result["backend"], result["model"], result["seed"]) == ("automatic1111", MODEL_NAME, 42)
    assert (sent["prompt"], sent["seed"]) == ("astronaut", 42)
    assert f"generation id={result['id']} backend=automatic1111 status=ok" in caplog.text


def test_generate_neighbours_ranked_and_limited_by_k(lens_datasette, corpus, lens_db):
    with FakeGenerator(png_of(photo("coffee"))) as server:
        datasette = make_datasette(lens_datasette, corpus, lens_db, **a1111(server.base_url))
        result = run(datasette.client.post("/-/generate.json", json={"prompt": "coffee", "k": 5})).json()
    similarities = [row["similarity"] for row in result["neighbours"]]
    assert len(similarities) == 5
    assert similarities == sorted(similarities, reverse=True)
    assert result["neighbours"][0]["id"] == corpus["ids"]["coffee"]
    # Only the top image is identical; the others are other photos, below the threshold.
    assert all(s < THRESHOLD for s in similarities[1:])


def fts_count(db_path, query: str) -> int:
    conn = sqlite3.connect(db_path)
    count = conn.execute("SELECT count(*) FROM images_fts WHERE images_fts MATCH ?", (query,)).fetchone()[0]
    conn.close()
    return count


def test_generate_prompt_counts_match_direct_fts(lens_datasette, corpus, lens_db):
    from laionlens.text import literal_query

    prompt = "a cat, in a space suit"
    with FakeGenerator(png_of(photo("chelsea"))) as server:
        datasette = make_datasette(lens_datasette, corpus, lens_db, **a1111(server.base_url))
        counts = run(datasette.client.post("/-/generate.json", json={"prompt": prompt})).json()["prompt_counts"]
    by_word = {row["word"]: row["count"] for row in counts["words"]}
    assert list(by_word) == ["a", "cat", "in", "space", "suit"]
    for word, count in by_word.items():
        assert count == fts_count(lens_db, literal_query(word)), word
    assert by_word["cat"] == 4  # "tabby cat", "a cat and", "cat sticker", "for a cat"
    assert counts["all_words"]["count"] == fts_count(lens_db, literal_query(prompt)) == 0
    assert counts["phrase"]["count"] == 0
    assert counts["words"][3]["search_url"] == "/lens/images?_search=space"


def test_generate_prompt_count_links_find_the_same_rows(lens_datasette, corpus, lens_db):
    with FakeGenerator(png_of(photo("chelsea"))) as server:
        datasette = make_datasette(lens_datasette, corpus, lens_db, **a1111(server.base_url))
        counts = run(datasette.client.post("/-/generate.json", json={"prompt": "space suit"})).json()["prompt_counts"]
        for row in counts["words"] + [counts["phrase"], counts["all_words"]]:
            url = row["search_url"].replace("/lens/images?", "/lens/images.json?_shape=array&")
            listed = run(datasette.client.get(url)).json()
            assert len(listed) == row["count"], row
    assert counts["phrase"]["count"] == 2  # "white space suit", "space suit for a cat"


def test_generate_html_form_post_shows_result(lens_datasette, corpus, lens_db):
    with FakeGenerator(png_of(photo("rocket"))) as server:
        datasette = make_datasette(lens_datasette, corpus, lens_db, **a1111(server.base_url))
        response = run(datasette.client.post("/-/generate", data={"prompt": "rocket launch", "seed": "7"}))
    assert response.status_code == 200
    assert "possible near-copy" in response.text
    assert PHOTOS["rocket"] in response.text
    assert 'href="/-/generations/1"' in response.text
    assert "/lens/images?_search=rocket" in response.text


@pytest.mark.parametrize(
    "mode, status, words",
    [
        ("slow", 504, "automatic1111: no response from"),
        ("garbled", 502, "automatic1111:"),
        ("bad_image", 502, "not an image"),
        ("error", 502, "HTTP 500"),
    ],
)
def test_generate_failing_generator(lens_datasette, corpus, lens_db, mode, status, words):
    with FakeGenerator(png_of(photo("coffee")), mode=mode, delay_s=3) as server:
        datasette = make_datasette(lens_datasette, corpus, lens_db, **a1111(server.base_url, timeout_s=0.3))
        response = run(datasette.client.post("/-/generate.json", json={"prompt": "a fox"}))
    assert response.status_code == status
    assert words in response.json()["error"]
    # Nothing generated, nothing stored: the table is not even created.
    tables = sqlite3.connect(lens_db).execute("SELECT name FROM sqlite_master").fetchall()
    assert ("generations",) not in tables


def test_generate_stopped_generator_is_502(lens_datasette, corpus, lens_db):
    server = FakeGenerator(png_of(photo("coffee"))).start()
    base_url = server.base_url
    server.stop()
    datasette = make_datasette(lens_datasette, corpus, lens_db, **a1111(base_url))
    response = run(datasette.client.post("/-/generate.json", json={"prompt": "a fox"}))
    assert response.status_code == 502
    assert response.json()["error"].startswith("automatic1111: cannot reach")


def test_generate_concurrency_cap_answers_429(lens_datasette, corpus, lens_db):
    with FakeGenerator(png_of(photo("astronaut")), mode="hold") as server:
        datasette = make_datasette(lens_datasette, corpus, lens_db, **a1111(server.base_url, max_concurrent=1))

        async def scenario():
            first = asyncio.create_task(datasette.client.post("/-/generate.json", json={"prompt": "one"}))
            assert await asyncio.to_thread(server.received.wait, 20)
            second = await datasette.client.post("/-/generate.json", json={"prompt": "two"})
            server.release.set()
            return await first, second

        first, second = run(scenario())
    assert second.status_code == 429
    assert int(second.headers["retry-after"]) >= 1
    assert "busy" in second.json()["error"]
    assert first.status_code == 200
    assert len(server.requests) == 1


def test_generate_openai_backend_sends_key_and_never_logs_it(lens_datasette, corpus, lens_db, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("LENS_TEST_IMAGE_KEY", SECRET)
    with FakeGenerator(png_of(photo("coffee")), api_key=SECRET) as server:
        settings = {"backend": "openai", "base_url": server.base_url, "api_key_env": "LENS_TEST_IMAGE_KEY",
                    "model": "tiny-image-model", "timeout_s": 30}
        datasette = make_datasette(lens_datasette, corpus, lens_db, **settings)
        response = run(datasette.client.post("/-/generate.json", json={"prompt": "coffee cup"}))
        headers = server.requests[0]["headers"]
    assert response.status_code == 200, response.text
    assert headers["Authorization"] == f"Bearer {SECRET}"
    result = response.json()
    assert result["neighbours"][0]["id"] == corpus["ids"]["coffee"]
    assert (result["backend"], result["model"]) == ("openai", "tiny-image-model")
    assert SECRET not in caplog.text
    assert SECRET not in response.text
    stored = sqlite3.connect(lens_db).execute("SELECT params, result FROM generations").fetchone()
    assert SECRET not in "".join(stored)


def test_generate_openai_wrong_key_error_hides_key(lens_datasette, corpus, lens_db, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("LENS_TEST_IMAGE_KEY", SECRET)
    with FakeGenerator(png_of(photo("coffee")), api_key="the-right-key") as server:
        settings = {"backend": "openai", "base_url": server.base_url, "api_key_env": "LENS_TEST_IMAGE_KEY"}
        datasette = make_datasette(lens_datasette, corpus, lens_db, **settings)
        response = run(datasette.client.post("/-/generate.json", json={"prompt": "coffee cup"}))
    assert response.status_code == 502
    assert "openai:" in response.json()["error"] and "HTTP 401" in response.json()["error"]
    assert SECRET not in response.text
    assert SECRET not in caplog.text


def test_generation_permalink_survives_restart(lens_datasette, corpus, lens_db):
    generated = png_of(photo("rocket"))
    with FakeGenerator(generated) as server:
        first = make_datasette(lens_datasette, corpus, lens_db, **a1111(server.base_url))
        body = {"prompt": "rocket at dawn", "negative_prompt": "blurry", "seed": 99, "steps": 12,
                "width": 256, "height": 320, "cfg_scale": 5.5}
        original = run(first.client.post("/-/generate.json", json=body)).json()
    restarted = make_datasette(lens_datasette, corpus, lens_db, backend="none")
    reopened = run(restarted.client.get(original["permalink"] + ".json")).json()
    for key in ("id", "neighbours", "verdict", "prompt_counts", "model", "seed", "params", "image", "created_at"):
        assert reopened[key] == original[key], key
    assert reopened["params"] == dict(body, k=3)
    image = run(restarted.client.get(original["image_url"]))
    assert image.headers["content-type"] == "image/png"
    assert hashlib.sha256(image.content).hexdigest() == original["image"]["sha256"]
    assert image.content == generated
    page = run(restarted.client.get(original["permalink"]))
    assert page.status_code == 200
    assert "rocket at dawn" in page.text and "blurry" in page.text and "&#34;cfg_scale&#34;: 5.5" in page.text


def test_generation_row_holds_provenance(lens_datasette, corpus, lens_db):
    generated = png_of(photo("chelsea"))
    with FakeGenerator(generated) as server:
        datasette = make_datasette(lens_datasette, corpus, lens_db, **a1111(server.base_url))
        result = run(datasette.client.post("/-/generate.json", json={"prompt": "tabby", "seed": 5})).json()
    conn = sqlite3.connect(lens_db)
    conn.row_factory = sqlite3.Row
    row = conn.execute("SELECT * FROM generations WHERE id = ?", (result["id"],)).fetchone()
    assert (row["source"], row["backend"], row["model"], row["prompt"], row["seed"]) == (
        "generate", "automatic1111", MODEL_NAME, "tabby", 5)
    assert row["image_sha256"] == hashlib.sha256(generated).hexdigest()
    assert row["image_png"] == generated
    assert row["created_at"] and row["duration_ms"] >= 0
    assert f'"id": {corpus["ids"]["chelsea"]}' in row["result"]


def test_compare_upload_finds_training_image(lens_datasette, corpus, lens_db):
    datasette = make_datasette(lens_datasette, corpus, lens_db, backend="none")
    jpeg = io.BytesIO()
    photo("chelsea").save(jpeg, "JPEG", quality=95)
    files = {"image": ("cat.jpg", jpeg.getvalue(), "image/jpeg")}
    response = run(datasette.client.post("/-/compare.json", files=files, data={"prompt": "tabby cat"}))
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["source"] == "upload"
    assert result["neighbours"][0]["id"] == corpus["ids"]["chelsea"]
    # JPEG changed the pixels a little: still near 1.0, and a pHash within a few bits.
    assert result["neighbours"][0]["similarity"] > 0.99
    assert result["neighbours"][0]["phash_distance"] <= 4
    assert result["image"]["sha256"] == hashlib.sha256(jpeg.getvalue()).hexdigest()
    assert {row["word"] for row in result["prompt_counts"]["words"]} == {"tabby", "cat"}
    stored = run(datasette.client.get(result["image_url"]))
    assert Image.open(io.BytesIO(stored.content)).format == "PNG"


def test_compare_unrelated_image_is_not_a_near_copy(lens_datasette, corpus, lens_db):
    datasette = make_datasette(lens_datasette, corpus, lens_db, backend="none")
    upload = png_of(photo("camera"))
    response = run(datasette.client.post("/-/compare.json", content=upload,
                                         headers={"content-type": "image/png"}))
    verdict = response.json()["verdict"]
    assert verdict["near_copy"] is False
    assert verdict["label"] == "no near-copy found"
    assert verdict["best_similarity"] < THRESHOLD
    assert verdict["phash_near_copy"] is False
    assert response.json()["prompt_counts"] is None


@pytest.mark.parametrize(
    "path, headers",
    [
        ("/-/generate", {"accept": "application/json"}),
        ("/-/generate?_format=json", {}),
        ("/-/generate.json", {"accept": "text/html"}),  # the suffix wins
    ],
)
def test_generate_json_negotiation(lens_datasette, corpus, lens_db, path, headers):
    with FakeGenerator(png_of(photo("rocket"))) as server:
        datasette = make_datasette(lens_datasette, corpus, lens_db, **a1111(server.base_url))
        response = run(datasette.client.post(path, json={"prompt": "rocket"}, headers=headers))
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["neighbours"][0]["id"] == corpus["ids"]["rocket"]


def test_compare_html_upload_shows_result_page(lens_datasette, corpus, lens_db):
    datasette = make_datasette(lens_datasette, corpus, lens_db, backend="none")
    files = {"image": ("moon.png", png_of(photo("hubble_deep_field")), "image/png")}
    response = run(datasette.client.post("/-/compare", files=files, data={"prompt": "galaxies"}))
    assert response.status_code == 200
    assert "Uploaded image" in response.text
    assert PHOTOS["hubble_deep_field"] in response.text
    assert "/lens/images?_search=galaxies" in response.text
    permalink = run(datasette.client.get("/-/generations/1?_format=json")).json()
    assert permalink["source"] == "upload" and permalink["prompt"] == "galaxies"


def test_generate_failure_is_logged_with_backend_and_status(lens_datasette, corpus, lens_db, caplog):
    caplog.set_level(logging.INFO, logger="laionlens")
    with FakeGenerator(png_of(photo("rocket")), mode="garbled") as server:
        datasette = make_datasette(lens_datasette, corpus, lens_db, **a1111(server.base_url))
        run(datasette.client.post("/-/generate.json", json={"prompt": "rocket"}))
    assert "generation id=None backend=automatic1111 status=bad_response duration_ms=" in caplog.text


def test_compare_browser_upload_with_csrf_cookie(lens_datasette, corpus, lens_db):
    import re

    datasette = make_datasette(lens_datasette, corpus, lens_db, backend="none")
    form = run(datasette.client.get("/-/compare"))
    token = re.search(r'name="csrftoken" value="([^"]+)"', form.text).group(1)
    cookies = {"ds_csrftoken": form.cookies["ds_csrftoken"]}
    files = {"image": ("rocket.png", png_of(photo("rocket")), "image/png")}
    response = run(datasette.client.post("/-/compare", files=files, data={"csrftoken": token}, cookies=cookies))
    assert response.status_code == 200, response.text
    assert PHOTOS["rocket"] in response.text


def test_compare_on_read_only_database_is_not_stored(corpus, lens_db):
    from datasette.app import Datasette

    from laionlens.commands.serve import DEFAULT_METADATA, load_metadata
    from plugins import register_plugins

    register_plugins()
    metadata = load_metadata(DEFAULT_METADATA, dict(corpus["config"], generator={"backend": "none"}))
    datasette = Datasette(immutables=[str(lens_db)], metadata=metadata)
    files = {"image": ("rocket.png", png_of(photo("rocket")), "image/png")}
    response = run(datasette.client.post("/-/compare.json", files=files))
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["neighbours"][0]["id"] == corpus["ids"]["rocket"]
    assert (result["id"], result["permalink"]) == (None, None)
    page = run(datasette.client.post("/-/compare", files=files))
    assert "read-only" in page.text
    tables = sqlite3.connect(lens_db).execute("SELECT name FROM sqlite_master").fetchall()
    assert ("generations",) not in tables
