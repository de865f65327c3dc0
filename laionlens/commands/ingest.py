import click


@click.command()
def ingest():
    """Not implemented yet."""
    raise click.ClickException("laionlens ingest is not implemented yet")
