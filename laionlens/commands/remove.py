import click


@click.command()
def remove():
    """Not implemented yet."""
    raise click.ClickException("laionlens remove is not implemented yet")
