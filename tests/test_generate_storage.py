"""The generations table and the perceptual-hash comparison, below the web layer."""

import io
import logging
import sqlite3

import pytest
from PIL import Image, ImageDraw

from laionlens.phash import local_image_path, phash_distances
from laionlens.provenance import (
    GenerationNotFound,
    GenerationRecord,
    insert_generation,
    load_generation,
    sha256_hex,
)


def record(**changes) -> GenerationRecord:
    png = b"\x89PNG fake bytes"
    values = {
        "source": "generate", "backend": "automatic1111", "image_png": png,
        "image_sha256": sha256_hex(png), "width": 512, "height": 512,
        "params": {"prompt": "fox", "seed": 3}, "result": {"neighbours": []},
        "model": "sd-1.5", "prompt": "fox", "seed": 3, "duration_ms": 1200,
    }
    return GenerationRecord(**{**values, **changes})


def test_insert_generation_creates_table_and_round_trips():
    conn = sqlite3.connect(":memory:")
    first = insert_generation(conn, record())
    second = insert_generation(conn, record(prompt="owl", result={"verdict": {"near_copy": True}}))
    assert (first, second) == (1, 2)
    row = load_generation(conn, second)
    assert row["prompt"] == "owl"
    assert row["result"] == {"verdict": {"near_copy": True}}
    assert row["params"] == {"prompt": "fox", "seed": 3}
    assert row["created_at"].endswith("+00:00")
    assert "image_png" not in row


def test_load_generation_reads_image_only_when_asked():
    conn = sqlite3.connect(":memory:")
    generation_id = insert_generation(conn, record())
    assert load_generation(conn, generation_id, with_image=True)["image_png"] == b"\x89PNG fake bytes"


@pytest.mark.parametrize("create_table", [False, True])
def test_load_generation_unknown_id(create_table):
    conn = sqlite3.connect(":memory:")
    if create_table:
        insert_generation(conn, record())
    with pytest.raises(GenerationNotFound, match="No generation 7"):
        load_generation(conn, 7)


def drawing(shapes: str) -> Image.Image:
    image = Image.new("RGB", (128, 128), "white")
    draw = ImageDraw.Draw(image)
    if "circle" in shapes:
        draw.ellipse((20, 20, 100, 100), fill="black")
    if "bars" in shapes:
        for x in range(0, 128, 16):
            draw.rectangle((x, 0, x + 7, 127), fill="navy")
    return image


@pytest.fixture
def images_dir(tmp_path):
    drawing("circle").save(tmp_path / "1.png")
    drawing("circle").resize((96, 96)).save(tmp_path / "2.jpg", quality=80)  # a resized copy
    drawing("bars").save(tmp_path / "3.webp")
    (tmp_path / "4.png").write_bytes(b"not an image")
    return tmp_path


@pytest.mark.parametrize(
    "rowid, name",
    [(1, "1.png"), (2, "2.jpg"), (3, "3.webp"), (5, None)],
)
def test_local_image_path_finds_any_suffix(images_dir, rowid, name):
    found = local_image_path(images_dir, rowid)
    assert (found.name if found else None) == name


def test_phash_distances_small_for_copies_large_otherwise(images_dir, caplog):
    caplog.set_level(logging.WARNING, logger="laionlens.phash")
    distances = phash_distances(drawing("circle"), images_dir, [1, 2, 3, 4, 5])
    assert distances[1] == 0
    assert distances[2] <= 8  # resized and recompressed, still the same picture
    assert distances[3] > 8
    assert 4 not in distances  # unreadable file: logged and skipped
    assert 5 not in distances  # no local copy
    assert "row 4" in caplog.text


def test_phash_of_png_bytes_matches_saved_image(images_dir):
    buffer = io.BytesIO()
    drawing("circle").save(buffer, "PNG")
    assert phash_distances(Image.open(buffer), images_dir, [1]) == {1: 0}
