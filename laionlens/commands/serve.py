"""``laionlens serve``: Datasette with the LAION Lens metadata and plugins."""

import json
import logging
import socket
import sqlite3
import tempfile
from pathlib import Path

import click
import yaml

from laionlens.commands.options import db_option

log = logging.getLogger("laionlens.serve")

DEFAULT_METADATA = Path(__file__).resolve().parents[2] / "metadata.yml"


def load_metadata(path: Path, overrides: dict) -> dict:
    """Read ``metadata.yml`` and overlay ``overrides`` on its ``laionlens`` plugin section."""
    metadata = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    plugin = metadata.setdefault("plugins", {}).setdefault("laionlens", {})
    plugin.update({key: value for key, value in overrides.items() if value is not None})
    return metadata


def check_database(db_path: str) -> None:
    """Raise a ClickException unless ``db_path`` is a LAION Lens database."""
    path = Path(db_path)
    if not path.is_file():
        raise click.ClickException(
            f"Database {db_path!r} not found. Build one first: laionlens ingest SOURCE --db {db_path}"
        )
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        conn.close()
    except sqlite3.DatabaseError as error:
        raise click.ClickException(f"{db_path!r} is not an SQLite database: {error}") from error
    if "images" not in tables:
        raise click.ClickException(
            f"{db_path!r} has no images table. Build it with: laionlens ingest SOURCE --db {db_path}"
        )


def check_port(host: str, port: int) -> None:
    """Raise a ClickException if ``port`` on ``host`` cannot be bound, before anything starts."""
    if port == 0:
        return
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as error:
        raise click.ClickException(f"host {host!r} is not a valid address: {error}") from error
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As uvicorn does, so a port still in TIME_WAIT after the last server counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise click.ClickException(
                f"port {port} on {host} is in use: pick another with --port ({error.strerror})"
            ) from error


@click.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8001, show_default=True, type=int, help="TCP port to listen on.")
@click.option(
    "--metadata",
    "metadata_path",
    default=str(DEFAULT_METADATA),
    show_default=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Datasette metadata file with the laionlens plugin configuration.",
)
@click.option(
    "--index",
    "vector_index",
    type=click.Path(exists=True, dir_okay=False),
    help="FAISS index file for similarity search (overrides vector_index in the metadata).",
)
@click.option(
    "--clip-checkpoint",
    type=click.Path(exists=True, dir_okay=False),
    help="Local open_clip checkpoint file (overrides clip_checkpoint in the metadata).",
)
@click.option("--clip-model", help="open_clip architecture name (overrides clip_model).")
@click.option("--images-dir", type=click.Path(exists=True, file_okay=False),
              help="Folder of local training images for perceptual-hash comparisons.")
def serve(db_path, host, port, metadata_path, vector_index, clip_checkpoint, clip_model, images_dir):
    """Serve a LAION Lens database with Datasette in the browser and as a JSON API.

    Example: laionlens serve --db laion.db --port 8001
    """
    from datasette.cli import cli as datasette_cli

    from laionlens.clip import ClipError
    from laionlens.vectors import VectorIndexError
    from plugins import register_plugins

    check_database(db_path)
    check_port(host, port)
    overrides = {
        "vector_index": vector_index,
        "clip_checkpoint": clip_checkpoint,
        "clip_model": clip_model,
        "images_dir": images_dir,
    }
    metadata = load_metadata(metadata_path, overrides)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(metadata, handle)
    register_plugins()
    log.info("starting Datasette for %s on http://%s:%d/", db_path, host, port)
    args = ["serve", db_path, "--metadata", handle.name, "--host", host, "--port", str(port)]
    for name, value in (("sql_time_limit_ms", 5000), ("facet_time_limit_ms", 500),
                        ("max_returned_rows", 1000), ("num_sql_threads", 4)):
        args += ["--setting", name, str(value)]
    try:
        datasette_cli.main(args=args, prog_name="laionlens serve", standalone_mode=False)
    except (VectorIndexError, ClipError) as error:
        # The startup hook rejected the vector index or the CLIP model; the message
        # already names the mismatch and the fix, so a traceback adds nothing.
        log.error("cannot serve %s: %s", db_path, error)
        raise click.ClickException(str(error)) from error
    finally:
        Path(handle.name).unlink(missing_ok=True)
        log.info("stopped serving %s", db_path)
