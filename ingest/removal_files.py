"""Deleting the local copies of removed training images (``images_dir``, files ``<rowid>.<ext>``)."""

import logging
from collections.abc import Iterable
from pathlib import Path

from laionlens.phash import IMAGE_SUFFIXES

log = logging.getLogger("laionlens.remove")


def delete_local_copies(images_dir: str | Path, removed_ids: Iterable[int]) -> int:
    """Delete every local copy of a removed row in ``images_dir``; return how many files went.

    Every suffix is tried, because a folder may hold one row under several formats.
    """
    folder = Path(images_dir)
    deleted = 0
    for rowid in removed_ids:
        for suffix in IMAGE_SUFFIXES:
            path = folder / f"{int(rowid)}{suffix}"
            if path.is_file():
                path.unlink()
                deleted += 1
    log.info("deleted %d local image files of removed rows from %s", deleted, folder)
    return deleted
