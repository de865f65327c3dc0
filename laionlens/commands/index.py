"""``laionlens index``: build the FAISS index from the stored embeddings."""

import click

from laionlens.commands.options import db_option


@click.command()
@db_option
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="Index file to write (.faiss); its .json sidecar and vector files go beside it.")
@click.option("--memory-budget", default=1536.0, show_default=True, type=float,
              help="Memory the loaded index may use, in MB; decides exact versus compressed.")
@click.option("--exact-max", default=250_000, show_default=True, type=click.IntRange(0),
              help="Largest number of vectors searched exactly (flat index).")
@click.option("--nprobe", type=click.IntRange(1),
              help="Lists searched per query by a compressed index [default: 16]; more is slower "
                   "and finds more of the true neighbours.")
def index(db_path, out_path, memory_budget, exact_max, nprobe):
    """Build a vector index of every stored embedding, keyed by row id.

    The index is written to a temporary file and renamed into place, so a server
    never sees half an index. The sidecar records the model, which the server
    checks against its configuration at start.

    \b
    Example: laionlens index --db laion.db --out laion.faiss --memory-budget 1536
    """
    from ingest.embed_index import IndexSourceError, build_from_database
    from laionlens.vectors import VectorIndexError

    try:
        built = build_from_database(db_path, out_path, memory_budget, exact_max, nprobe)
    except (IndexSourceError, VectorIndexError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"wrote {out_path}: {built.count} vectors of dimension {built.dim} "
               f"({built.sidecar['factory']})")
