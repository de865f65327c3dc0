"""Download the images of rows that have no vector yet, embed them, record every failure.

Downloads run concurrently (``concurrency`` at a time) with a timeout and a size
cap each; transient failures are retried with backoff. Images whose server sends
``X-Robots-Tag: noai`` or ``noimageai`` are skipped and never fetched again. A
rerun only tries rows without a vector whose earlier attempts failed fewer than
``max_attempts`` times.
"""

from __future__ import annotations

import asyncio
import logging

from tqdm import tqdm

from ingest.embed_encode import ImageBatcher
from ingest.embed_fetch import (
    FetchError,
    FetchTooLarge,
    OptedOut,
    UrlRefused,
    fetch_image_bytes,
    new_client,
)
from ingest.embed_store import pending_rows, record_failure
from laionlens.clip import UndecodableImage, decode_image

log = logging.getLogger("laionlens.embed")

PERMANENT = (UrlRefused, FetchTooLarge, OptedOut)


async def fetch_with_retries(client, url: str, options: dict) -> bytes:
    for attempt in range(options["retries"] + 1):
        try:
            fetched = await fetch_image_bytes(client, url, max_bytes=options["max_bytes"],
                                              allow_private=options["allow_private"], respect_noai=True)
            return fetched.data
        except PERMANENT:
            raise
        except FetchError:
            if attempt == options["retries"]:
                raise
            await asyncio.sleep(options["backoff_s"] * 2**attempt)


async def download_one(client, image_id: int, url: str, options: dict, batcher: ImageBatcher, lock):
    try:
        data = await fetch_with_retries(client, url, options)
        image = await asyncio.to_thread(decode_image, data, f"image of row {image_id}")
    except OptedOut as error:
        record_failure(batcher.conn, image_id, str(error), status="skipped")
        batcher.bar.update(1)
        return
    except (FetchError, UndecodableImage) as error:
        batcher.fail([image_id], f"{getattr(error, 'reason', 'undecodable')}: {error}")
        return
    async with lock:
        batcher.images.append(image)
        batcher.ids.append([image_id])
        full = batcher.take() if len(batcher.images) >= batcher.batch_size else None
    if full:
        await encode_and_store(batcher, full)


async def encode_and_store(batcher: ImageBatcher, batch) -> None:
    # The model runs in a thread; SQLite writes stay on the event loop's thread,
    # which owns the connection.
    if batch[0]:
        batcher.store(*await asyncio.to_thread(batcher.encode, *batch))


async def download_all(conn, encoder, rows, options: dict, bar) -> ImageBatcher:
    batcher = ImageBatcher(conn, encoder, options["batch_size"], bar, options["replace"])
    queue: asyncio.Queue = asyncio.Queue()
    for row in rows:
        queue.put_nowait(row)
    lock = asyncio.Lock()

    async def worker(client):
        while not queue.empty():
            image_id, url = queue.get_nowait()
            await download_one(client, image_id, url, options, batcher, lock)

    async with new_client(options["timeout_s"]) as client:
        await asyncio.gather(*(worker(client) for _ in range(options["concurrency"])))
    await encode_and_store(batcher, batcher.take())
    conn.commit()
    return batcher


def embed_download(conn, encoder, *, batch_size: int = 32, concurrency: int = 16, timeout_s: float = 10.0,
                   max_bytes: int = 10 * 2**20, retries: int = 2, max_attempts: int = 3,
                   allow_private: bool = False, backoff_s: float = 0.5, progress: bool = True,
                   replace: bool = False) -> dict:
    """Download, embed and store the images of pending rows; return counts."""
    rows = [] if replace else pending_rows(conn, max_attempts)
    if replace:
        rows = conn.execute("SELECT id, url FROM images ORDER BY id").fetchall()
    options = {"batch_size": batch_size, "concurrency": max(1, concurrency), "timeout_s": timeout_s,
               "max_bytes": max_bytes, "retries": retries, "allow_private": allow_private,
               "backoff_s": backoff_s, "replace": replace}
    log.info("downloading %d images, %d at a time", len(rows), options["concurrency"])
    with tqdm(total=len(rows), unit="img", disable=not progress, desc="download+embed") as bar:
        batcher = asyncio.run(download_all(conn, encoder, rows, options, bar))
    return {"pending": len(rows), "stored": batcher.stored, "failed": batcher.failed}
