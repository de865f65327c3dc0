"""Perceptual-hash distance between an image and local copies of training images.

A high CLIP similarity means that two images show the same thing. A small
perceptual-hash (pHash) distance means that they look alike pixel for pixel, whatever
the model. The two signals
together make a near-copy report harder to explain away. Only training images that
exist as local files (``images_dir``, named ``<rowid>.<ext>``) can be compared: the
web process never downloads them.
"""

import logging
from pathlib import Path

import imagehash
from PIL import Image, UnidentifiedImageError

log = logging.getLogger("laionlens.phash")

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp")
# Hamming distance (out of 64 bits) at or below which two images are reported as the
# same picture. This is a heuristic: for a 64-bit pHash, resized or recompressed copies
# typically differ in under 10 bits, and unrelated photos in about 32 (half the bits).
NEAR_COPY_DISTANCE = 8


def image_phash(image: Image.Image) -> imagehash.ImageHash:
    return imagehash.phash(image.convert("RGB"))


def local_image_path(images_dir: str | Path, rowid: int) -> Path | None:
    """Return the local copy of training image ``rowid`` in ``images_dir``, if any."""
    folder = Path(images_dir)
    for suffix in IMAGE_SUFFIXES:
        path = folder / f"{int(rowid)}{suffix}"
        if path.is_file():
            return path
    return None


def phash_distances(image: Image.Image, images_dir: str | Path, rowids: list[int]) -> dict[int, int]:
    """Return {rowid: pHash Hamming distance to ``image``} for the rowids stored locally.

    Blocking (file reads and hashing): run it in a thread. Unreadable files are logged
    and left out rather than failing the whole comparison.
    """
    reference = image_phash(image)
    distances = {}
    for rowid in rowids:
        path = local_image_path(images_dir, rowid)
        if path is None:
            continue
        try:
            with Image.open(path) as local:
                distances[rowid] = int(reference - image_phash(local))
        except (UnidentifiedImageError, OSError) as error:
            log.warning("failed to hash local image %s of row %d: %s", path, rowid, error)
    return distances
