"""Embedding sources (folder, webdataset, download, LAION precomputed) and their CLI."""

import io
import json
import shutil
import sqlite3
import tarfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from ingest.embed_store import EmbeddingModelMismatch, open_store, read_vectors, status_counts
from laionlens.cli import cli
from tests.clip_fixtures import (
    PHOTOS,
    build_photo_database,
    photo,
    photo_url,
    row_ids_by_name,
    save_as,
)

pytestmark = pytest.mark.clip


def stored_vectors(db_path) -> dict[int, np.ndarray]:
    conn = sqlite3.connect(db_path)
    try:
        return {int(i): v for ids, vectors in read_vectors(conn) for i, v in zip(ids, vectors)}
    finally:
        conn.close()


def statuses(db_path) -> dict[int, tuple]:
    conn = sqlite3.connect(db_path)
    try:
        return {row[0]: row[1:] for row in conn.execute(
            "SELECT image_id, status, reason, attempts FROM embedding_status")}
    finally:
        conn.close()


def png_bytes(name: str) -> bytes:
    buffer = io.BytesIO()
    photo(name).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def fresh_db(tmp_path):
    return build_photo_database(tmp_path)


def embed_cli(db_path, tiny_clip, *args):
    return CliRunner().invoke(cli, ["embed", "--db", str(db_path), "--clip-model", tiny_clip.config_path,
                                    "--clip-checkpoint", tiny_clip.checkpoint, "--no-progress", *args])


def test_embed_folder_stores_every_photo_and_rerun_adds_nothing(photo_corpus, tiny_clip, tmp_path):
    vectors = stored_vectors(photo_corpus.db_path)
    assert sorted(vectors) == sorted(photo_corpus.ids.values())
    db_copy = tmp_path / "copy.db"
    shutil.copy(photo_corpus.db_path, db_copy)
    result = embed_cli(db_copy, tiny_clip, "--images", str(photo_corpus.images))
    assert result.exit_code == 0, result.output
    assert "stored: 0" in result.output
    assert f"already: {len(PHOTOS)}" in result.output


def test_embed_folder_records_undecodable_file_and_goes_on(fresh_db, tiny_clip, tmp_path):
    ids = row_ids_by_name(fresh_db)
    folder = tmp_path / "images"
    folder.mkdir()
    save_as(photo("astronaut"), folder / f"{ids['astronaut']}.png", "RGB")
    (folder / f"{ids['moon']}.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (folder / "999999.png").write_bytes(png_bytes("coins"))  # no such row
    result = embed_cli(fresh_db, tiny_clip, "--images", str(folder))
    assert result.exit_code == 0, result.output
    assert "stored: 1" in result.output
    assert "unmatched: 1" in result.output
    status, reason, attempts = statuses(fresh_db)[ids["moon"]]
    assert (status, attempts) == ("failed", 1)
    assert "undecodable" in reason


def write_webdataset(path, names, base="https://photos.example"):
    with tarfile.open(path, "w") as tar:
        for number, name in enumerate(names):
            for suffix, data in ((".jpg", photo_jpeg(name)),
                                 (".json", json.dumps({"url": photo_url(name, base), "key": f"{number:09d}"}).encode())):
                info = tarfile.TarInfo(f"{number:09d}{suffix}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def photo_jpeg(name: str) -> bytes:
    buffer = io.BytesIO()
    photo(name).convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def test_embed_webdataset_matches_by_url_and_finds_folder_twins(fresh_db, photo_corpus, tiny_clip, tmp_path):
    names = [name for name, _, _ in PHOTOS if name != "rocket"]  # rocket's URL is on another domain
    tar = write_webdataset(tmp_path / "00000.tar", names + ["rocket"])
    result = embed_cli(fresh_db, tiny_clip, "--webdataset", str(tar))
    assert result.exit_code == 0, result.output
    assert f"stored: {len(names)}" in result.output
    assert "unmatched: 1" in result.output
    from_tar, from_folder = stored_vectors(fresh_db), stored_vectors(photo_corpus.db_path)
    ids = row_ids_by_name(fresh_db)
    folder_ids = np.array(sorted(from_folder))
    folder_matrix = np.stack([from_folder[i] for i in folder_ids])
    for name in names:
        best = folder_ids[np.argmax(folder_matrix @ from_tar[ids[name]])]
        assert best == photo_corpus.ids[name], name


def test_embed_download_skips_noai_records_failures_and_retries_only_missing(tmp_path, tiny_clip, image_server):
    db_path = build_photo_database(tmp_path, base=image_server.base)
    ids = row_ids_by_name(db_path)
    for name, _, _ in PHOTOS:
        image_server.add(f"/{name}.jpg", photo_jpeg(name), {"Content-Type": "image/jpeg"})
    image_server.add("/coins.jpg", photo_jpeg("coins"), {"X-Robots-Tag": "noai"})
    image_server.add("/moon.jpg", photo_jpeg("moon"), {"X-Robots-Tag": "googlebot: noimageai, noindex"})
    image_server.add("/page.jpg", b"", status=500)
    image_server.add("/text.jpg", b"<html>not an image</html>", {"Content-Type": "text/html"})
    # rocket's row points at space.example, which does not resolve here.
    result = embed_cli(db_path, tiny_clip, "--download", "--allow-private-urls", "--retries", "1", "--timeout", "5")
    assert result.exit_code == 0, result.output
    found = statuses(db_path)
    assert found[ids["coins"]][0] == found[ids["moon"]][0] == "skipped"
    assert found[ids["page"]][0] == "failed"
    assert "HTTP 500" in found[ids["page"]][1]
    assert found[ids["text"]][0] == "failed"
    assert "undecodable" in found[ids["text"]][1]
    assert found[ids["rocket"]][0] == "failed"
    ok = {i for i, (status, _, _) in found.items() if status == "ok"}
    assert ok == set(ids.values()) - {ids[n] for n in ("coins", "moon", "page", "text", "rocket")}
    image_server.add("/page.jpg", photo_jpeg("page"), {"Content-Type": "image/jpeg"})
    again = embed_cli(db_path, tiny_clip, "--download", "--allow-private-urls", "--retries", "0", "--timeout", "5")
    assert "pending: 3" in again.output  # page, text and rocket, but not the opted-out ones
    after = statuses(db_path)
    assert after[ids["page"]][0] == "ok"
    assert after[ids["text"]][2] == 2


def test_embed_download_refuses_private_addresses_without_flag(tmp_path, tiny_clip, image_server):
    db_path = build_photo_database(tmp_path, base=image_server.base)
    image_server.add("/astronaut.jpg", photo_jpeg("astronaut"))
    result = embed_cli(db_path, tiny_clip, "--download", "--retries", "0")
    assert result.exit_code == 0, result.output
    reasons = {status[1].split(":")[0] for status in statuses(db_path).values() if status[0] == "failed"}
    assert "url_refused" in reasons


def write_precomputed(folder, rows, vectors, part="0000"):
    (folder / "img_emb").mkdir(parents=True, exist_ok=True)
    (folder / "metadata").mkdir(exist_ok=True)
    np.save(folder / "img_emb" / f"img_emb_{part}.npy", vectors.astype(np.float16))
    pq.write_table(pa.Table.from_pylist(rows), folder / "metadata" / f"metadata_{part}.parquet")


def test_embed_precomputed_joins_on_url_and_caption(fresh_db, tmp_path):
    ids = row_ids_by_name(fresh_db)
    rng = np.random.default_rng(3)
    rows = [
        {"url": photo_url("astronaut"), "caption": "a picture of astronaut"},
        {"url": "https://elsewhere.example/x.jpg", "caption": "not ours"},
        {"url": photo_url("coffee"), "caption": "a different caption"},  # same URL, other caption
        {"url": photo_url("coins"), "caption": "a picture of coins"},
    ]
    vectors = rng.standard_normal((4, 768))
    write_precomputed(tmp_path / "laion", rows, vectors)
    result = CliRunner().invoke(cli, ["embed", "--db", str(fresh_db), "--precomputed", str(tmp_path / "laion"),
                                      "--no-progress"])
    assert result.exit_code == 0, result.output
    stored = stored_vectors(fresh_db)
    assert sorted(stored) == sorted([ids["astronaut"], ids["coins"]])
    expected = vectors[3] / np.linalg.norm(vectors[3])
    assert np.allclose(stored[ids["coins"]], expected, atol=2e-3)


def test_embed_refuses_to_mix_models(photo_corpus, tmp_path):
    db_copy = tmp_path / "copy.db"
    shutil.copy(photo_corpus.db_path, db_copy)
    write_precomputed(tmp_path / "laion", [{"url": "u", "caption": "c"}], np.ones((1, 768)))
    result = CliRunner().invoke(cli, ["embed", "--db", str(db_copy), "--precomputed", str(tmp_path / "laion")])
    assert result.exit_code == 1
    assert "LensTinyCLIP" in result.output
    assert "--replace" in result.output
    from ingest.embed_precomputed import embed_precomputed

    conn = open_store(db_copy)
    with pytest.raises(EmbeddingModelMismatch):
        embed_precomputed(conn, tmp_path / "laion", progress=False)
    conn.close()


@pytest.mark.parametrize("args, message", [
    ([], "Give exactly one source"),
    (["--download", "--images", "."], "Give exactly one source"),
])
def test_embed_cli_needs_exactly_one_source(fresh_db, args, message):
    result = CliRunner().invoke(cli, ["embed", "--db", str(fresh_db), *args])
    assert result.exit_code == 2
    assert message in result.output


def test_embed_cli_on_database_without_images_table(tmp_path):
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    result = CliRunner().invoke(cli, ["embed", "--db", str(empty), "--download"])
    assert result.exit_code == 1
    assert "laionlens ingest" in result.output


def test_index_cli_builds_index_and_reports(photo_corpus, tmp_path):
    out = tmp_path / "out.faiss"
    result = CliRunner().invoke(cli, ["index", "--db", str(photo_corpus.db_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"{len(PHOTOS)} vectors of dimension 32" in result.output
    assert status_counts(sqlite3.connect(photo_corpus.db_path)) == {"ok": len(PHOTOS)}


def test_index_cli_without_embeddings_says_run_embed(fresh_db, tmp_path):
    result = CliRunner().invoke(cli, ["index", "--db", str(fresh_db), "--out", str(tmp_path / "x.faiss")])
    assert result.exit_code == 1
    assert "laionlens embed" in result.output
