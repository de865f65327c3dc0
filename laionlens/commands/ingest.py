"""``laionlens ingest``: load LAION parquet metadata into a LAION Lens database."""

import click

from laionlens.commands.options import db_option


@click.command()
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@db_option
@click.option(
    "--batch-size",
    "batch_rows",
    type=click.IntRange(min=1),
    default=None,
    help="Rows written per transaction (default 50000, or the LAIONLENS_INGEST_BATCH_ROWS environment variable). "
    "A kill loses at most one batch, which the next run redoes.",
)
@click.option("--no-progress", is_flag=True, help="Do not show the progress bar.")
def ingest(sources, db_path, batch_rows, no_progress):
    """Ingest LAION metadata from SOURCE... into the database --db.

    SOURCE is a parquet file, a folder of parquet files, or an http(s) URL of one.
    Every LAION release's columns are accepted (URL/url, TEXT/caption, WIDTH, HEIGHT,
    similarity, punsafe, pwatermark, aesthetic or AESTHETIC_SCORE, hash, LANGUAGE,
    LICENSE, NSFW). Files already in the database are skipped, an interrupted
    ingest resumes where it stopped, and URLs in the removals table are not added back.

    Example: laionlens ingest part-00000.parquet shards/ --db laion.db
    """
    from ingest.errors import IngestError
    from ingest.pipeline import ingest_paths

    try:
        report = ingest_paths(sources, db_path, progress=not no_progress, batch_rows=batch_rows)
    except IngestError as error:
        raise click.ClickException(str(error)) from error
    click.echo(report.format())
