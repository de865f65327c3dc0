"""laionlens.clip: loading, encoding, image conversion, and the errors users see."""

import io
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from laionlens.clip import (
    ClipWeightsMissing,
    UndecodableImage,
    UnknownClipModel,
    decode_image,
    load_encoder,
    to_rgb,
)

pytestmark = pytest.mark.clip


@pytest.mark.parametrize("mode, make", [
    ("RGB", lambda: Image.new("RGB", (4, 4), (10, 20, 30))),
    ("RGBA", lambda: Image.new("RGBA", (4, 4), (10, 20, 30, 0))),  # transparent becomes white
    ("LA", lambda: Image.new("LA", (4, 4), (10, 255))),
    ("P", lambda: Image.new("RGB", (4, 4), (200, 0, 0)).quantize(4)),
    ("L", lambda: Image.new("L", (4, 4), 128)),
    ("I;16", lambda: Image.fromarray(np.full((4, 4), 65535, np.uint16))),  # scaled, not clipped
    ("CMYK", lambda: Image.new("CMYK", (4, 4), (0, 255, 255, 0))),
    ("1", lambda: Image.new("1", (4, 4), 1)),
])
def test_to_rgb_converts_every_mode_to_8_bit_rgb(mode, make):
    image = make()
    assert image.mode == mode
    converted = to_rgb(image)
    assert converted.mode == "RGB"
    assert converted.size == (4, 4)


@pytest.mark.parametrize("make, expected", [
    (lambda: Image.new("RGBA", (2, 2), (10, 20, 30, 0)), (255, 255, 255)),
    (lambda: Image.fromarray(np.full((2, 2), 65535, np.uint16)), (255, 255, 255)),
    (lambda: Image.fromarray(np.full((2, 2), 32896, np.uint16)), (128, 128, 128)),
])
def test_to_rgb_pixel_values(make, expected):
    assert to_rgb(make()).getpixel((0, 0)) == expected


def test_encoder_outputs_normalised_float32(tiny_encoder):
    images = [Image.new("RGB", (80, 50), (i * 40, 0, 0)) for i in range(3)]
    for vectors, count in ((tiny_encoder.encode_images(images, batch_size=2), 3),
                           (tiny_encoder.encode_texts(["a", "b"]), 2),
                           (tiny_encoder.encode_texts([]), 0)):
        assert vectors.dtype == np.float32
        assert vectors.shape == (count, tiny_encoder.dim)
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_encoder_truncates_text_longer_than_context(tiny_encoder):
    head = " ".join(f"word{i}" for i in range(40))
    long = head + " " + "tail " * 500
    vectors = tiny_encoder.encode_texts([long, head + " tail tail tail"])
    assert vectors.shape == (2, tiny_encoder.dim)
    assert np.all(np.isfinite(vectors))


def test_encoder_records_identity(tiny_encoder, tiny_clip):
    assert tiny_encoder.model_name == "LensTinyCLIP"
    assert tiny_encoder.checkpoint == tiny_clip.checkpoint
    assert tiny_encoder.pretrained is None
    assert tiny_encoder.dim == 32
    assert tiny_encoder.preprocess_id.startswith("64x64px")


def test_load_encoder_unknown_model_lists_choices():
    with pytest.raises(UnknownClipModel, match="'ViT-Nope'.*ViT-B-32"):
        load_encoder("ViT-Nope", pretrained=None)


def test_load_encoder_missing_checkpoint_names_the_option(tmp_path):
    with pytest.raises(ClipWeightsMissing, match="--clip-checkpoint"):
        load_encoder("ViT-B-32", checkpoint=str(tmp_path / "absent.pt"))


def run_isolated(code: str, **env) -> subprocess.CompletedProcess:
    environment = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=False, capture_output=True, text=True,
                          env=environment, timeout=300, cwd=os.getcwd())


def test_load_encoder_missing_weights_offline_says_where_and_how(tmp_path):
    # HF_HUB_OFFLINE must be set before huggingface_hub is imported, hence a subprocess;
    # the empty HF_HOME guarantees no cached weights.
    result = run_isolated("""
        from laionlens.clip import ClipWeightsMissing, load_encoder
        try:
            load_encoder("ViT-B-32", "laion2b_s34b_b79k", device="cpu")
        except ClipWeightsMissing as error:
            print("MESSAGE", error)
    """, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    message = result.stdout
    assert "MESSAGE" in message, result.stderr[-2000:]
    for part in ("'ViT-B-32'", "'laion2b_s34b_b79k'", str(tmp_path / "hf"), "--clip-checkpoint", "HF_HUB_OFFLINE"):
        assert part in message


@pytest.mark.parametrize("data, message", [
    (b"plain text", "not an image Pillow can decode"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not an image Pillow can decode"),
])
def test_decode_image_refuses_non_images(data, message):
    with pytest.raises(UndecodableImage, match=message):
        decode_image(data)


def test_decode_image_refuses_too_many_pixels():
    buffer = io.BytesIO()
    Image.new("L", (400, 300)).save(buffer, "PNG")
    with pytest.raises(UndecodableImage, match="400x300 pixels"):
        decode_image(buffer.getvalue(), max_pixels=100_000)


def test_serving_non_vector_pages_does_not_import_torch(photo_corpus, tiny_clip):
    config = dict(tiny_clip.plugin_config, vector_index=str(photo_corpus.index_path))
    result = run_isolated(f"""
        import asyncio, json, sys
        from datasette.app import Datasette
        from laionlens.commands.serve import DEFAULT_METADATA, load_metadata
        from plugins import register_plugins
        register_plugins()
        metadata = load_metadata(DEFAULT_METADATA, json.loads({json.dumps(json.dumps(config))}))
        ds = Datasette([{str(photo_corpus.db_path)!r}], metadata=metadata)
        async def main():
            pages = ["/", "/photos/images.json", "/-/similar.json?row=1", "/-/similar.json"]
            return [(await ds.client.get(page)).status_code for page in pages]
        print("STATUS", asyncio.run(main()))
        print("TORCH", "torch" in sys.modules, "open_clip" in sys.modules)
    """)
    assert "STATUS [200, 200, 200, 200]" in result.stdout, result.stderr[-3000:]
    assert "TORCH False False" in result.stdout
