"""``laionlens remove``: take rows down everywhere at once (takedowns, artists' opt-outs)."""

import logging

import click

from laionlens.commands.options import db_option

log = logging.getLogger("laionlens.remove")


@click.command()
@db_option
@click.option("--urls", "urls_file", type=click.Path(dir_okay=False),
              help="Text file of image URLs to remove, one per line.")
@click.option("--hashes", "hashes_file", type=click.Path(dir_okay=False),
              help="Text file of LAION 'hash' column values (int64) to remove, one per line.")
@click.option("--keep-only", "keep_shards", multiple=True, type=click.Path(),
              help="Re-LAION parquet file or folder; rows whose URL is in none of them are "
                   "removed. Repeat the option for several shards.")
@click.option("--reason", required=True,
              help="Why the rows are removed, stored with each removal and shown on their row pages.")
@click.option("--index", "index_path", type=click.Path(exists=True, dir_okay=False),
              help="FAISS index file to rewrite without the removed rows.")
@click.option("--images-dir", type=click.Path(exists=True, file_okay=False),
              help="Folder of local training image copies (<rowid>.<ext>); those of removed rows "
                   "are deleted.")
@click.option("--dry-run", is_flag=True, help="Report what would be removed and change nothing.")
def remove(db_path, urls_file, hashes_file, keep_shards, reason, index_path, images_dir, dry_run):
    """Remove rows from the images table, the full-text index, the domain counts and
    every table keyed by image id, in one transaction, and record them so that a
    later ingest skips them. Row pages of removed rows return 410 Gone. Listed URLs
    and hashes are recorded even when no row has them yet, so an ingest of a later
    shard skips those rows too.

    Give exactly one of --urls, --hashes or --keep-only.

    \b
    Example:
      laionlens remove --db laion.db --urls takedown.txt --reason "Re-LAION takedown 2024-08"
    """
    from ingest import remove as removal

    chosen = [name for name, value in (("--urls", urls_file), ("--hashes", hashes_file),
                                       ("--keep-only", keep_shards)) if value]
    if len(chosen) != 1:
        raise click.UsageError("Give exactly one of --urls FILE, --hashes FILE or --keep-only SHARD.")
    if not (reason or "").strip():
        raise click.UsageError('--reason is required, e.g. --reason "artist opt-out (Spawning)".')
    try:
        report = _run(removal, db_path, urls_file, hashes_file, keep_shards, reason.strip(), dry_run)
    except removal.RemovalError as error:
        raise click.ClickException(str(error)) from error
    for line in report.summary_lines():
        click.echo(line)
    if index_path and report.removed_ids and not dry_run:
        _rewrite_index(index_path, report.removed_ids)
    if images_dir and report.removed_ids and not dry_run:
        from ingest.removal_files import delete_local_copies

        deleted = delete_local_copies(images_dir, report.removed_ids)
        click.echo(f"deleted {deleted:,} local image files from {images_dir}")


def _run(removal, db_path, urls_file, hashes_file, keep_shards, reason, dry_run):
    options = {"dry_run": dry_run, "progress": True}
    if urls_file:
        return removal.remove_by_urls(db_path, urls_file, reason, **options)
    if hashes_file:
        return removal.remove_by_hashes(db_path, hashes_file, reason, **options)
    return removal.keep_only(db_path, keep_shards, reason, **options)


def _rewrite_index(index_path: str, removed_ids: list[int]) -> None:
    from ingest import remove as removal

    try:
        dropped = removal.remove_from_vector_index(index_path, removed_ids)
    except removal.RemovalError as error:
        # The database change is committed; the server drops ids missing from images.
        raise click.ClickException(
            f"Rows were removed from the database, but {index_path!r} was not rewritten: {error}"
        ) from error
    click.echo(f"removed {dropped:,} vectors from {index_path}")
