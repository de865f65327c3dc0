"""The floor for ingest speed: the least work that still gives a searchable table.

``executemany`` of every parquet row into a table without constraints, indexes or
domains, then an FTS5 ``rebuild`` over its caption column, in one transaction with
the journal off. Run as its own process so that, like ``laionlens ingest``, its time
includes starting Python and importing pyarrow.

Example: python -m bench.ingest_floor /tmp/rows.parquet /tmp/floor.db
"""

import sqlite3
from pathlib import Path

import click
import pyarrow.parquet as pq


@click.command()
@click.argument("parquet", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("db", type=click.Path(dir_okay=False, path_type=Path))
def main(parquet, db):
    """Load PARQUET into a new database DB the bare way."""
    table = pq.read_table(parquet)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    columns = ", ".join(f'"{name}"' for name in table.column_names)
    conn.execute(f"CREATE TABLE plain ({columns})")
    conn.execute("CREATE VIRTUAL TABLE plain_fts USING fts5(TEXT, content='plain')")
    conn.execute("BEGIN")
    marks = ", ".join("?" * table.num_columns)
    conn.executemany(f"INSERT INTO plain VALUES ({marks})", zip(*(c.to_pylist() for c in table.columns)))
    conn.execute("INSERT INTO plain_fts(plain_fts) VALUES ('rebuild')")
    conn.execute("COMMIT")
    conn.close()


if __name__ == "__main__":
    main()
