"""Table metadata (descriptions, search, labels, hidden tables) for any database name.

Datasette 0.65 reads a table's settings (``fts_table``, ``label_column``, ``hidden``,
``facets``, column descriptions) only from ``databases.<name>.tables.<table>``, and the
name is the database file's stem, which differs between a demo, a test and a full
build. ``metadata.yml`` therefore keeps them under a top-level ``tables`` key and this
hook repeats that block under every attached database.
"""

from datasette import hookimpl

INTERNAL_DATABASE = "_internal"


@hookimpl
def get_metadata(datasette, key, database, table):
    # Read the local metadata directly: calling datasette.metadata() here would run
    # this hook again and never return.
    tables = datasette._metadata_local.get("tables")
    if not isinstance(tables, dict):
        return None
    names = [name for name in datasette.databases if name != INTERNAL_DATABASE]
    return {"databases": {name: {"tables": tables} for name in names}}
