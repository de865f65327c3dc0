"""Embed images from a local folder, each file named by its row: ``<id>.<ext>`` or
``<sha256 of the URL>.<ext>`` (the naming of the images_dir setting)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from tqdm import tqdm

from ingest.embed_encode import ImageBatcher, embedded_ids
from laionlens.hashing import url_sha256

log = logging.getLogger("laionlens.embed")

SHA256_NAME = re.compile(r"^[0-9a-f]{64}$")


def image_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file() and not path.name.startswith("."))


def ids_by_url_hash(conn, wanted: set[str]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for image_id, url in conn.execute("SELECT id, url FROM images"):
        digest = url_sha256(url)
        if digest in wanted:
            found.setdefault(digest, []).append(image_id)
    return found


def match_files(conn, files: list[Path]) -> tuple[list[tuple[list[int], Path]], int]:
    """Pair each file with the row ids it belongs to; return the pairs and the unmatched count."""
    hashed = {path.stem.lower() for path in files if SHA256_NAME.match(path.stem.lower())}
    by_hash = ids_by_url_hash(conn, hashed) if hashed else {}
    known = {row[0] for row in conn.execute("SELECT id FROM images")}
    pairs, unmatched = [], 0
    for path in files:
        stem = path.stem.lower()
        if stem in hashed:
            ids = by_hash.get(stem, [])
        elif stem.isdigit() and int(stem) in known:
            ids = [int(stem)]
        else:
            ids = []
        if ids:
            pairs.append((ids, path))
        else:
            unmatched += 1
    return pairs, unmatched


def embed_folder(conn, encoder, folder, *, batch_size: int = 32, progress: bool = True,
                 replace: bool = False) -> dict:
    """Embed every file of ``folder`` that names a row without a vector yet."""
    folder = Path(folder)
    pairs, unmatched = match_files(conn, image_files(folder))
    done = set() if replace else embedded_ids(conn)
    todo = [(ids, path) for ids, path in pairs if not set(ids) <= done]
    log.info("embedding %d files from %s (%d already embedded, %d not matching a row)",
             len(todo), folder, len(pairs) - len(todo), unmatched)
    with tqdm(total=sum(len(ids) for ids, _ in todo), unit="img", disable=not progress, desc="embed") as bar:
        batcher = ImageBatcher(conn, encoder, batch_size, bar, replace)
        for ids, path in todo:
            batcher.add(ids, path.read_bytes(), str(path))
        batcher.flush()
    return {"stored": batcher.stored, "failed": batcher.failed, "unmatched": unmatched,
            "already": len(pairs) - len(todo)}
