"""Embed the images of img2dataset webdataset tars, matched to rows by URL.

img2dataset writes each sample as ``<key>.jpg`` (or .png, .webp) next to
``<key>.json`` holding the source ``url``; members of one sample are adjacent.
"""

from __future__ import annotations

import json
import logging
import tarfile
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from ingest.embed_encode import ImageBatcher, embedded_ids
from laionlens.hashing import url_hash

log = logging.getLogger("laionlens.embed")

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"})


def samples(tar_path: Path):
    """Yield (key, {suffix: bytes}) for each sample of a webdataset tar, streaming."""
    key, parts = None, {}
    with tarfile.open(tar_path, "r|*") as tar:
        for member in tar:
            if not member.isfile():
                continue
            name = PurePosixPath(member.name)
            stem, _, suffix = name.name.partition(".")
            sample_key = str(name.parent / stem)
            if sample_key != key and parts:
                yield key, parts
                parts = {}
            key = sample_key
            parts["." + suffix.lower()] = tar.extractfile(member).read()
    if parts:
        yield key, parts


def sample_url(parts: dict) -> str | None:
    try:
        return json.loads(parts[".json"]).get("url")
    except (KeyError, ValueError, AttributeError):
        return None


def sample_image(parts: dict) -> tuple[str, bytes] | None:
    for suffix, data in parts.items():
        if suffix in IMAGE_SUFFIXES:
            return suffix, data
    return None


def embed_webdataset(conn, encoder, tars, *, batch_size: int = 32, progress: bool = True,
                     replace: bool = False) -> dict:
    """Embed the samples of ``tars`` whose URL is a row without a vector yet."""
    done = set() if replace else embedded_ids(conn)
    counts = {"unmatched": 0, "already": 0, "no_image": 0}
    with tqdm(unit="img", disable=not progress, desc="embed") as bar:
        batcher = ImageBatcher(conn, encoder, batch_size, bar, replace)
        for tar_path in map(Path, tars):
            log.info("reading webdataset %s", tar_path)
            for key, parts in samples(tar_path):
                url = sample_url(parts)
                ids = [row[0] for row in conn.execute("SELECT id FROM images WHERE url_hash = ? AND url = ?",
                                                      (url_hash(url), url))] if url else []
                image = sample_image(parts)
                if not ids:
                    counts["unmatched"] += 1
                elif set(ids) <= done:
                    counts["already"] += 1
                elif image is None:
                    counts["no_image"] += 1
                    batcher.fail(ids, f"no image file for sample {key} in {tar_path.name}")
                else:
                    batcher.add(ids, image[1], f"{tar_path.name}:{key}{image[0]}")
        batcher.flush()
    return dict(counts, stored=batcher.stored, failed=batcher.failed)
