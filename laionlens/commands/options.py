"""Options shared by several commands."""

import click

db_option = click.option(
    "--db",
    "db_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=str),
    help="SQLite database file of LAION Lens.",
)
