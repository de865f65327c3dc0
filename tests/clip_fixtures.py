"""A tiny open_clip model with random weights, saved as a checkpoint, for the CLIP tests.

The model is registered from a config JSON and loaded from its checkpoint file
through the same code path as a user's real checkpoint (``--clip-checkpoint``).
Nothing is ever downloaded.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

# A 2-layer ViT on 64-pixel images with 16-pixel patches and a 2-layer text
# transformer with CLIP's tokenizer and context, embedding into 32 dimensions.
# With random weights, a class token makes every image embed almost alike (mean
# cosine 0.9); average pooling of the patch tokens keeps them apart (about 0.05).
TINY_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "head_width": 32, "patch_size": 16,
                   "pool_type": "avg"},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}
TINY_NAME = "LensTinyCLIP"


@dataclass(frozen=True)
class TinyClip:
    config_path: str  # pass as clip_model / --clip-model
    checkpoint: str  # pass as clip_checkpoint / --clip-checkpoint
    model_name: str = TINY_NAME

    @property
    def plugin_config(self) -> dict:
        """The ``clip_*`` plugin settings that select this model."""
        return {"clip_model": self.config_path, "clip_checkpoint": self.checkpoint,
                "clip_pretrained": None}


def make_tiny_checkpoint(folder: Path, seed: int = 0) -> TinyClip:
    """Write the tiny model's config and a random-weight checkpoint into ``folder``."""
    import open_clip
    import torch

    config_path = folder / f"{TINY_NAME}.json"
    config_path.write_text(json.dumps(TINY_CONFIG), encoding="utf-8")
    open_clip.add_model_config(str(config_path))
    torch.manual_seed(seed)
    model = open_clip.create_model(TINY_NAME)
    checkpoint = folder / "tiny-clip.pt"
    torch.save(model.state_dict(), checkpoint)
    return TinyClip(str(config_path), str(checkpoint))


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory) -> TinyClip:
    """Config path and checkpoint of the tiny random-weight CLIP model."""
    pytest.importorskip("open_clip")
    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture(scope="session")
def tiny_encoder(tiny_clip):
    """The tiny model loaded through laionlens.clip.load_encoder, as a user checkpoint is."""
    from laionlens.clip import load_encoder

    return load_encoder(tiny_clip.config_path, pretrained=None, checkpoint=tiny_clip.checkpoint,
                        device="cpu")


# Distinct photographs and drawings shipped with scikit-image (``cat`` is a copy of
# ``chelsea`` and is left out). Some are saved in unusual modes to exercise the
# conversion to RGB: (name, file suffix, Pillow mode to save in).
PHOTOS = (
    ("astronaut", ".png", "RGB"),
    ("brick", ".png", "L"),
    ("camera", ".png", "I;16"),
    ("chelsea", ".jpg", "RGB"),
    ("clock", ".png", "L"),
    ("coffee", ".jpg", "CMYK"),
    ("coins", ".png", "L"),
    ("colorwheel", ".png", "P"),
    ("grass", ".png", "L"),
    ("gravel", ".png", "L"),
    ("hubble_deep_field", ".jpg", "RGB"),
    ("immunohistochemistry", ".png", "RGB"),
    ("logo", ".png", "RGBA"),
    ("moon", ".png", "L"),
    ("page", ".png", "L"),
    ("rocket", ".jpg", "RGB"),
    ("text", ".png", "L"),
)


def photo(name: str):
    """The scikit-image sample ``name`` as a PIL image in its native mode."""
    import skimage.data
    from PIL import Image

    return Image.fromarray(getattr(skimage.data, name)())


def save_as(image, path: Path, mode: str) -> None:
    import numpy as np
    from PIL import Image

    if mode == "I;16":
        wide = np.asarray(image.convert("L"), dtype=np.uint16) * 257
        image = Image.fromarray(wide)
    elif mode == "P":
        image = image.convert("RGB").quantize(64)
    else:
        image = image.convert(mode)
    image.save(path)


def photo_url(name: str, base: str = "https://photos.example") -> str:
    return f"{base}/{name}.jpg"


def photo_rows(base: str = "https://photos.example") -> list[dict]:
    """LAION-like rows for the photos: the logo is scored unsafe, rockets come from
    another domain, scores rise with the position in PHOTOS."""
    rows = []
    for position, (name, _, _) in enumerate(PHOTOS):
        url = photo_url(name, base if name != "rocket" else "https://space.example")
        rows.append({"URL": url, "TEXT": f"a picture of {name.replace('_', ' ')}",
                     "punsafe": 0.9 if name == "logo" else 0.01 * position,
                     "AESTHETIC_SCORE": 4.0 + 0.2 * position})
    return rows


def build_photo_database(folder: Path, base: str = "https://photos.example") -> Path:
    """Ingest the photo rows with the real ingest; return the database path."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ingest.pipeline import ingest_paths

    shard = folder / "photos.parquet"
    pq.write_table(pa.Table.from_pylist(photo_rows(base)), shard)
    db_path = folder / "photos.db"
    ingest_paths([shard], db_path)
    return db_path


def row_ids_by_name(db_path: Path) -> dict[str, int]:
    import sqlite3

    conn = sqlite3.connect(db_path)
    try:
        urls = dict(conn.execute("SELECT url, id FROM images"))
    finally:
        conn.close()
    return {url.rsplit("/", 1)[1].split(".")[0]: image_id for url, image_id in urls.items()}


def write_photo_folder(folder: Path, ids: dict[str, int]) -> Path:
    """Save each photo as ``<row id><suffix>`` in its mode; return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, suffix, mode in PHOTOS:
        save_as(photo(name), folder / f"{ids[name]}{suffix}", mode)
    return folder


@dataclass(frozen=True)
class PhotoCorpus:
    root: Path
    db_path: Path
    images: Path
    ids: dict
    index_path: Path


@pytest.fixture(scope="session")
def photo_corpus(tmp_path_factory, tiny_clip, tiny_encoder) -> PhotoCorpus:
    """The photos ingested, embedded from a folder with the tiny model and indexed.

    Tests must not change these files; copy the database to change it.
    """
    from ingest.embed_folder import embed_folder
    from ingest.embed_index import build_from_database
    from ingest.embed_store import open_store

    root = tmp_path_factory.mktemp("photos")
    db_path = build_photo_database(root)
    ids = row_ids_by_name(db_path)
    images = write_photo_folder(root / "images", ids)
    conn = open_store(db_path)
    try:
        embed_folder(conn, tiny_encoder, images, progress=False)
    finally:
        conn.close()
    index_path = root / "photos.faiss"
    build_from_database(db_path, index_path, 1536, 250_000)
    return PhotoCorpus(root, db_path, images, ids, index_path)


class ImageServer:
    """A threaded HTTP server on 127.0.0.1 serving registered paths with chosen headers."""

    def __init__(self):
        import http.server
        import threading

        routes = self.routes = {}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body, headers, status = routes.get(self.path, (b"not found", {}, 404))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def add(self, path: str, body: bytes, headers: dict | None = None, status: int = 200) -> str:
        self.routes[path] = (body, headers or {"Content-Type": "image/png"}, status)
        return self.base + path

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def image_server():
    server = ImageServer()
    yield server
    server.close()
