import click


@click.command()
def embed():
    """Not implemented yet."""
    raise click.ClickException("laionlens embed is not implemented yet")
