"""``laionlens remove --index``: the FAISS index is rewritten without the removed rows."""

import json
import sqlite3

import numpy as np
import pytest
from click.testing import CliRunner

from laionlens.cli import cli
from tests.removal_fixtures import ROWS, build_database

CAT_URL, SAKURA_URL = ROWS[0][0], ROWS[4][0]


def build_vector_index(path, ids, dim):
    from laionlens.vectors import build_index

    vectors = np.random.default_rng(7).normal(size=(len(ids), dim)).astype(np.float32)
    build_index(path, np.asarray(ids), vectors, model_name="test", pretrained=None, checkpoint=None,
                preprocess_id="none")
    return vectors


@pytest.mark.parametrize("extra_ids", [
    0,
    500,  # ids without a database row stay in the index
])
def test_remove_index_drops_removed_vectors(tmp_path, extra_ids):
    from laionlens.vectors import VectorIndex, sidecar_path

    db_path = build_database(tmp_path)
    conn = sqlite3.connect(db_path)
    ids = dict(conn.execute("SELECT url, id FROM images"))
    conn.close()
    all_ids = sorted(ids.values()) + list(range(1000, 1000 + extra_ids))
    index_path = tmp_path / "lens.faiss"
    vectors = build_vector_index(index_path, all_ids, dim=8)
    listed = tmp_path / "takedown.txt"
    listed.write_text(f"{CAT_URL}\n{SAKURA_URL}\n")

    result = CliRunner().invoke(cli, ["remove", "--db", str(db_path), "--urls", str(listed),
                                      "--reason", "takedown", "--index", str(index_path)])

    assert result.exit_code == 0, result.output
    assert f"removed 2 vectors from {index_path}" in result.output
    removed = {ids[CAT_URL], ids[SAKURA_URL]}
    index = VectorIndex.load(index_path)
    assert index.count == len(all_ids) - 2
    assert json.loads(sidecar_path(index_path).read_text())["count"] == len(all_ids) - 2
    assert removed.isdisjoint(int(i) for i in index.ids)
    assert index.vector_of(ids[CAT_URL]) is None
    position = all_ids.index(ids[CAT_URL])
    neighbours = index.search(vectors[position], k=10)[0]
    assert removed.isdisjoint(rowid for rowid, _ in neighbours)
    kept = ids[ROWS[1][0]]
    assert index.vector_of(kept) is not None


def test_remove_index_missing_files_reported(tmp_path):
    db_path = build_database(tmp_path)
    index_path = tmp_path / "lens.faiss"
    index_path.write_bytes(b"not an index")  # no sidecar, ids or vectors beside it
    listed = tmp_path / "takedown.txt"
    listed.write_text(f"{CAT_URL}\n")
    result = CliRunner().invoke(cli, ["remove", "--db", str(db_path), "--urls", str(listed),
                                      "--reason", "takedown", "--index", str(index_path)])
    assert result.exit_code == 1
    assert "Rows were removed from the database, but" in result.output
    assert "is missing" in result.output
