"""The ``laionlens`` command-line tool: a click group whose commands live in ``laionlens.commands``."""

import logging

import click

from laionlens import __version__
from laionlens.commands.check import check
from laionlens.commands.embed import embed
from laionlens.commands.index import index
from laionlens.commands.ingest import ingest
from laionlens.commands.remove import remove
from laionlens.commands.serve import serve


@click.group()
@click.version_option(__version__, prog_name="laionlens")
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages as well.")
def cli(verbose):
    """Search the LAION image-caption metadata that image generators were trained on."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


for command in (ingest, serve, remove, check, embed, index):
    cli.add_command(command)
