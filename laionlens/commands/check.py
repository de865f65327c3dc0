import click


@click.command()
def check():
    """Not implemented yet."""
    raise click.ClickException("laionlens check is not implemented yet")
