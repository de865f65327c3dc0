"""``laionlens embed``: compute or load image embeddings for the rows of a database."""

import logging

import click

from laionlens.commands.options import db_option

log = logging.getLogger("laionlens.embed")


def load_cli_encoder(clip_model, clip_pretrained, clip_checkpoint, device):
    from laionlens.clip import ClipError, load_encoder

    try:
        return load_encoder(clip_model, None if clip_checkpoint else clip_pretrained, clip_checkpoint, device)
    except ClipError as error:
        raise click.ClickException(str(error)) from error


def run_source(conn, source: str, value, options: dict) -> dict:
    from ingest.embed_download import embed_download
    from ingest.embed_folder import embed_folder
    from ingest.embed_precomputed import embed_precomputed
    from ingest.embed_webdataset import embed_webdataset

    common = {"progress": options["progress"], "replace": options["replace"]}
    if source == "precomputed":
        return embed_precomputed(conn, value, **common)
    encoder = load_cli_encoder(options["clip_model"], options["clip_pretrained"],
                               options["clip_checkpoint"], options["device"])
    common["batch_size"] = options["batch_size"]
    if source == "images":
        return embed_folder(conn, encoder, value, **common)
    if source == "webdataset":
        return embed_webdataset(conn, encoder, value, **common)
    return embed_download(conn, encoder, concurrency=options["concurrency"], timeout_s=options["timeout"],
                          max_bytes=int(options["max_mb"] * 2**20), retries=options["retries"],
                          max_attempts=options["max_attempts"], allow_private=options["allow_private_urls"],
                          **common)


def pick_source(images, webdataset, download, precomputed) -> tuple[str, object]:
    chosen = [(name, value) for name, value in (("images", images), ("webdataset", webdataset),
                                                 ("download", download), ("precomputed", precomputed))
              if value]
    if len(chosen) != 1:
        raise click.UsageError("Give exactly one source: --images DIR, --webdataset TAR..., "
                               "--download or --precomputed DIR")
    return chosen[0]


@click.command()
@db_option
@click.option("--images", type=click.Path(exists=True, file_okay=False),
              help="Folder of images named <row id>.<ext> or <sha256 of URL>.<ext>.")
@click.option("--webdataset", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="img2dataset webdataset tar, matched to rows by URL (repeat for several).")
@click.option("--download", is_flag=True, help="Download the images of rows that have no vector yet.")
@click.option("--precomputed", type=click.Path(exists=True, file_okay=False),
              help="Folder with LAION's img_emb/img_emb_NNNN.npy and metadata/metadata_NNNN.parquet.")
@click.option("--clip-model", default="ViT-B-32", show_default=True,
              help="open_clip architecture name, or the path of a model config JSON.")
@click.option("--clip-pretrained", default="laion2b_s34b_b79k", show_default=True,
              help="open_clip pretrained tag (ignored with --clip-checkpoint).")
@click.option("--clip-checkpoint", type=click.Path(exists=True, dir_okay=False),
              help="Local checkpoint file of the model (no download).")
@click.option("--device", help="torch device, e.g. cpu or cuda [default: cuda if available].")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1),
              help="Images per model batch.")
@click.option("--concurrency", default=16, show_default=True, type=click.IntRange(1),
              help="Downloads at a time (--download).")
@click.option("--timeout", default=10.0, show_default=True, type=float, help="Seconds per download.")
@click.option("--max-mb", default=10.0, show_default=True, type=float, help="Largest image to download, in MB.")
@click.option("--retries", default=2, show_default=True, type=click.IntRange(0),
              help="Retries of a failed download within one run.")
@click.option("--max-attempts", default=3, show_default=True, type=click.IntRange(1),
              help="Runs after which a failing row is no longer tried.")
@click.option("--allow-private-urls", is_flag=True,
              help="Also download from private and loopback addresses (testing only).")
@click.option("--replace", is_flag=True, help="Delete the stored vectors first (e.g. to change model).")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def embed(db_path, images, webdataset, download, precomputed, no_progress, **options):
    """Store an image embedding for each row of the database, from one source.

    A rerun only embeds rows that have no vector yet; every failure is recorded
    per row in the embedding_status table with its reason.

    \b
    Example: laionlens embed --db laion.db --images ./images --clip-checkpoint vit-b-32.pt
    """
    from ingest.embed_store import EmbedError, open_store, status_counts

    source, value = pick_source(images, webdataset, download, precomputed)
    options["progress"] = not no_progress
    try:
        conn = open_store(db_path)
        try:
            counts = run_source(conn, source, value, options)
            statuses = status_counts(conn)
        finally:
            conn.close()
    except EmbedError as error:
        raise click.ClickException(str(error)) from error
    click.echo(", ".join(f"{name}: {count}" for name, count in counts.items()))
    click.echo("status of all rows: " + (", ".join(f"{k} {v}" for k, v in sorted(statuses.items())) or "none"))
