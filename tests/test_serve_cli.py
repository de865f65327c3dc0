"""``laionlens serve``: the checks it makes before Datasette starts listening."""

import sqlite3

from click.testing import CliRunner

from laionlens.cli import cli


def test_serve_missing_database_names_fix(tmp_path):
    missing = tmp_path / "nothing.db"
    result = CliRunner().invoke(cli, ["serve", "--db", str(missing)])
    assert result.exit_code == 1
    assert "not found" in result.output
    assert "laionlens ingest" in result.output


def test_serve_database_without_images(tmp_path):
    db_path = tmp_path / "other.db"
    sqlite3.connect(db_path).execute("CREATE TABLE t (x)").connection.close()
    result = CliRunner().invoke(cli, ["serve", "--db", str(db_path)])
    assert result.exit_code == 1
    assert "has no images table" in result.output


def test_serve_model_mismatch_is_clean_error(photo_corpus):
    # The corpus index was built with the tiny test model; the default ViT-B-32
    # configuration must be refused before listening, without a traceback.
    result = CliRunner().invoke(
        cli, ["serve", "--db", str(photo_corpus.db_path), "--index", str(photo_corpus.index_path),
              "--port", "0"],
    )
    assert result.exit_code == 1, result.output
    assert "ViT-B-32" in result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


def test_serve_busy_port_is_clean_error(tmp_path, caplog):
    import socket

    db_path = tmp_path / "lens.db"
    sqlite3.connect(db_path).execute("CREATE TABLE images (x)").connection.close()
    caplog.set_level("INFO", logger="laionlens.serve")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        result = CliRunner().invoke(cli, ["serve", "--db", str(db_path), "--port", str(port)])
    assert result.exit_code == 1
    assert f"port {port} on 127.0.0.1 is in use: pick another with --port" in result.output
    assert "starting" not in caplog.text
