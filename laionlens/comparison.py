"""Compare one image with the training set: nearest neighbours by CLIP embedding, a
near-copy verdict, perceptual-hash distances to local copies, and prompt word counts.

Used by both the generation page (an image a backend made) and the comparison page
(an uploaded image). Model and index work runs in threads, never on the event loop.
"""

import asyncio
import io
import logging

from PIL import Image, UnidentifiedImageError

from laionlens.phash import NEAR_COPY_DISTANCE, phash_distances
from laionlens.prompt_counts import prompt_counts

log = logging.getLogger("laionlens.comparison")

VERDICT_NOTE = (
    "A heuristic, not a proof: a best cosine similarity at or above the threshold means "
    "the image is very close to a training image in CLIP space, which is typical of a "
    "memorised or replicated image but also of plain, common subjects. Check the images "
    "side by side; a small perceptual-hash distance, where shown, is a second, "
    "model-free sign of a pixel-level near-copy."
)


# A small compressed file can decode to gigabytes (a "decompression bomb"). No
# generator makes images this big, and CLIP sees only a few hundred pixels a side.
MAX_PIXELS = 40_000_000


class InvalidImage(ValueError):
    """Bytes given as an image are not one Pillow can read, or it is far too large."""


class ComparisonUnavailable(RuntimeError):
    """The vector index or the CLIP model is not configured or cannot be loaded."""


async def check_ready(datasette, config: dict) -> None:
    """Load the vector index and the CLIP model now, so that a server that cannot compare
    images reports it before any generation runs. Raises ComparisonUnavailable."""
    from laionlens.clip import ClipError, encoder_from_config
    from laionlens.neighbours import index_from_datasette
    from laionlens.vectors import VectorIndexError

    try:
        if await asyncio.to_thread(index_from_datasette, datasette) is None:
            raise ComparisonUnavailable(
                "Image comparison needs a vector index: set vector_index in metadata.yml "
                "or pass --index to laionlens serve"
            )
        await asyncio.to_thread(encoder_from_config, config)
    except (ClipError, VectorIndexError) as error:
        raise ComparisonUnavailable(f"Image comparison is unavailable: {error}") from error


def open_image(data: bytes, label: str = "upload") -> Image.Image:
    """Decode ``data`` fully into an RGB image, or raise InvalidImage naming ``label``."""
    if not data:
        raise InvalidImage(f"The {label} is empty; send a PNG, JPEG or WebP image")
    try:
        with Image.open(io.BytesIO(data)) as image:
            check_pixels(image, label)
            image.load()
            return image.convert("RGB")
    except InvalidImage:
        raise
    except Image.DecompressionBombError as error:
        raise InvalidImage(f"The {label} has too many pixels to decode safely ({error})") from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise InvalidImage(
            f"The {label} ({len(data)} bytes) is not an image Pillow can read; "
            "send a PNG, JPEG or WebP file"
        ) from error


def check_pixels(image: Image.Image, label: str) -> None:
    """Raise InvalidImage before decoding an image with more than MAX_PIXELS pixels."""
    if image.width * image.height > MAX_PIXELS:
        raise InvalidImage(
            f"The {label} is {image.width} x {image.height} pixels; the limit is "
            f"{MAX_PIXELS:,} pixels. Resize it, e.g. to 1024 x 1024, and try again"
        )


def png_bytes(data: bytes, image: Image.Image) -> bytes:
    """Return ``data`` when it already is a PNG, else ``image`` encoded as PNG."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return data
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def verdict(neighbours: list[dict], threshold: float, distances: dict[int, int]) -> dict:
    """Return the replication verdict for a ranked neighbour list."""
    best = max(neighbours, key=lambda row: row["similarity"], default=None)
    closest = min(distances.items(), key=lambda item: item[1], default=(None, None))
    near_copy = best is not None and best["similarity"] >= threshold
    return {
        "near_copy": near_copy,
        "label": "possible near-copy" if near_copy else "no near-copy found",
        "best_similarity": best["similarity"] if best else None,
        "best_id": best["id"] if best else None,
        "threshold": threshold,
        "phash_closest_id": closest[0],
        "phash_distance": closest[1],
        "phash_threshold": NEAR_COPY_DISTANCE,
        "phash_near_copy": closest[1] is not None and closest[1] <= NEAR_COPY_DISTANCE,
        "note": VERDICT_NOTE,
    }


async def image_neighbours(datasette, config: dict, image: Image.Image, k: int) -> list[dict]:
    """Embed ``image`` with the configured CLIP model and return its ``k`` nearest rows."""
    from laionlens.clip import ClipError, encoder_from_config
    from laionlens.neighbours import find_neighbours
    from laionlens.vectors import VectorIndexError

    try:
        encoder = await asyncio.to_thread(encoder_from_config, config)
        vectors = await asyncio.to_thread(encoder.encode_images, [image])
        return await find_neighbours(datasette, vectors, k)
    except (ClipError, VectorIndexError) as error:
        raise ComparisonUnavailable(f"Image comparison is unavailable: {error}") from error


async def compare(datasette, db, config: dict, image: Image.Image, prompt: str | None, k: int) -> dict:
    """Return the comparison result stored with a generation and shown on its page."""
    neighbours = [dict(row) for row in await image_neighbours(datasette, config, image, k)]
    distances = {}
    if config.get("images_dir"):
        rowids = [row["id"] for row in neighbours]
        distances = await asyncio.to_thread(phash_distances, image, config["images_dir"], rowids)
    for row in neighbours:
        row["phash_distance"] = distances.get(row["id"])
    counts = None
    if prompt:
        table_path = datasette.urls.table(db.name, "images")
        counts = await prompt_counts(db, table_path, prompt, int(config["count_cap"]))
    return {
        "neighbours": neighbours,
        "verdict": verdict(neighbours, float(config["replication_threshold"]), distances),
        "prompt_counts": counts,
        "phash_available": bool(config.get("images_dir")),
    }
