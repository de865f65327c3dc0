import click


@click.command()
def index():
    """Not implemented yet."""
    raise click.ClickException("laionlens index is not implemented yet")
