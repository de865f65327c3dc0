"""``laionlens check``: verify that a database is consistent and report exactly what is wrong."""

import click

from laionlens.commands.options import db_option


@click.command()
@db_option
@click.option("--full", is_flag=True,
              help="Run PRAGMA integrity_check (reads every page) instead of quick_check.")
@click.option("--sample", default=200, show_default=True, type=click.IntRange(min=0),
              help="Number of random captions looked up through the full-text index.")
@click.option("--seed", type=int, help="Random seed of the caption sample, to repeat a run.")
@click.option("--fix", is_flag=True,
              help="Recompute domain image counts from the images table before checking.")
def check(db_path, full, sample, seed, fix):
    """Check the full-text index, domain counts, removals and ingest progress of a
    database. Exits with status 1 if any check finds a problem.

    Example: laionlens check --db laion.db --full
    """
    from ingest import check as checks

    try:
        if fix:
            changed = checks.fix_domain_counts(db_path)
            click.echo(f"fixed the image_count of {changed:,} domains")
        results = checks.check_database(db_path, full=full, sample=sample, seed=seed)
    except checks.CheckError as error:
        raise click.ClickException(str(error)) from error
    for result in results:
        click.echo(f"{'ok' if result.ok else 'FAIL':<5} {result.name}")
        for problem in result.problems:
            click.echo(f"      {problem}")
    failed = sum(not result.ok for result in results)
    if failed:
        click.echo(f"{failed} of {len(results)} checks failed in {db_path}")
        raise SystemExit(1)
    click.echo(f"all {len(results)} checks passed for {db_path}")
