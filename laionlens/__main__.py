from laionlens.cli import cli

cli()
