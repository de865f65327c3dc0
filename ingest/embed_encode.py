"""Decode images, embed them in batches with the CLIP encoder, and store the vectors.

Shared by the folder, webdataset and download sources. An image Pillow cannot
decode is recorded as a failure of its rows and the run goes on.
"""

from __future__ import annotations

import logging

from ingest.embed_store import claim_model, put_vectors, record_failure
from laionlens.clip import UndecodableImage, decode_image
from laionlens.vectors import model_metadata

log = logging.getLogger("laionlens.embed")


def encoder_model(encoder) -> dict:
    """Return the ``embedding_model`` record of an encoder."""
    meta = model_metadata(encoder.model_name, encoder.pretrained, encoder.checkpoint, encoder.preprocess_id)
    return dict(meta, dim=encoder.dim)


def embedded_ids(conn) -> set[int]:
    return {row[0] for row in conn.execute("SELECT image_id FROM embeddings")}


class ImageBatcher:
    """Collects decoded images, embeds them ``batch_size`` at a time, writes the vectors."""

    def __init__(self, conn, encoder, batch_size: int, bar, replace: bool = False):
        self.conn, self.encoder, self.batch_size, self.bar = conn, encoder, batch_size, bar
        self.images, self.ids = [], []
        self.stored = self.failed = 0
        claim_model(conn, encoder_model(encoder), replace)

    def add(self, image_ids: list[int], data: bytes, name: str) -> None:
        try:
            image = decode_image(data, name)
        except UndecodableImage as error:
            self.fail(image_ids, f"undecodable: {error}")
            return
        self.add_image(image_ids, image)

    def add_image(self, image_ids: list[int], image) -> None:
        self.images.append(image)
        self.ids.append(image_ids)
        if len(self.images) >= self.batch_size:
            self.flush()

    def fail(self, image_ids: list[int], reason: str) -> None:
        for image_id in image_ids:
            record_failure(self.conn, image_id, reason)
        self.failed += len(image_ids)
        self.bar.update(len(image_ids))

    def take(self) -> tuple[list, list]:
        """Hand over the collected images and their row ids, emptying the batch."""
        taken = (self.images, self.ids)
        self.images, self.ids = [], []
        return taken

    def encode(self, images: list, ids: list[list[int]]) -> tuple[list[int], object]:
        """Embed ``images`` (safe to run in a worker thread: it does not touch SQLite)."""
        vectors = self.encoder.encode_images(images, batch_size=self.batch_size)
        return [i for group in ids for i in group], vectors.repeat([len(g) for g in ids], axis=0)

    def store(self, ids: list[int], vectors) -> None:
        put_vectors(self.conn, ids, vectors)
        self.conn.commit()
        self.stored += len(ids)
        self.bar.update(len(ids))

    def flush(self) -> None:
        if self.images:
            self.store(*self.encode(*self.take()))
