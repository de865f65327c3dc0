"""Open a parquet file, check it whole before anything is written, and stream its rows.

The footer is checked and the columns are planned up front, so a truncated file or a
file without a URL column is refused before the database is touched. Rows are then
read in record batches of a bounded size, so memory does not grow with the file.
"""

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ingest.columns import ColumnPlan, plan_columns
from ingest.errors import (
    CorruptParquetError,
    EmptyFileError,
    NotParquetError,
    TruncatedParquetError,
)

MAGIC = b"PAR1"


@dataclass
class ParquetSource:
    """A validated parquet file: where it came from, its fingerprint and its column plan."""

    path: Path
    origin: str
    size: int
    fingerprint: str
    num_rows: int
    plan: ColumnPlan

    @property
    def name(self) -> str:
        return self.origin.rstrip("/").rsplit("/", 1)[-1]


def open_source(path: Path, origin: str) -> ParquetSource:
    """Validate ``path`` (read as ``origin`` in messages) and plan its columns."""
    size = path.stat().st_size
    footer = read_footer(path, size, origin)
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as error:
        raise TruncatedParquetError(
            f"{origin}: the parquet footer cannot be read ({error}). "
            "The file is probably truncated or damaged: download it again."
        ) from error
    check_chunks_inside(parquet.metadata, size - len(footer), origin)
    plan = plan_columns(parquet.schema_arrow, origin)
    fingerprint = f"{size}:{hashlib.sha256(footer).hexdigest()}"
    return ParquetSource(path, origin, size, fingerprint, parquet.metadata.num_rows, plan)


def read_footer(path: Path, size: int, origin: str) -> bytes:
    """Return the footer (metadata, its length and the closing magic) after checking both ends."""
    if size == 0:
        raise EmptyFileError(f"{origin}: the file is empty (0 bytes). Download it again.")
    with open(path, "rb") as handle:
        head = handle.read(4)
        if head != MAGIC:
            raise NotParquetError(
                f"{origin}: not a parquet file (it starts with {head!r}, not {MAGIC!r}). "
                "Pass LAION metadata in parquet format."
            )
        handle.seek(max(size - 8, 0))
        tail = handle.read(8)
        footer_length = int.from_bytes(tail[:4], "little") if len(tail) == 8 else -1
        if size < 12 or tail[4:] != MAGIC or footer_length + 12 > size:
            raise TruncatedParquetError(
                f"{origin}: the parquet footer is missing ({size} bytes, no closing {MAGIC!r}). "
                "The file is truncated: download it again."
            )
        handle.seek(size - footer_length - 8)
        return handle.read(footer_length + 8)


def check_chunks_inside(metadata: pq.FileMetaData, data_end: int, origin: str) -> None:
    """Refuse a footer whose column chunks point past the data, as after a bad splice."""
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for column in range(row_group.num_columns):
            chunk = row_group.column(column)
            start = min(o for o in (chunk.dictionary_page_offset, chunk.data_page_offset) if o)
            if start + chunk.total_compressed_size > data_end:
                raise TruncatedParquetError(
                    f"{origin}: row group {group} lies beyond the end of the data "
                    f"({start + chunk.total_compressed_size} > {data_end} bytes). "
                    "The file is damaged: download it again."
                )


def iter_batches(
    source: ParquetSource, start_row: int, batch_rows: int
) -> Iterator[tuple[int, pa.RecordBatch]]:
    """Yield ``(first_row, batch)`` for the planned columns, from row ``start_row`` on."""
    parquet = pq.ParquetFile(source.path, pre_buffer=False)
    groups, first = row_groups_from(parquet.metadata, start_row)
    skip = start_row - first
    batches = parquet.iter_batches(
        batch_size=batch_rows, row_groups=groups, columns=source.plan.read_columns
    )
    row = first
    try:
        for batch in batches:
            if skip >= batch.num_rows:
                skip -= batch.num_rows
                row += batch.num_rows
                continue
            if skip:
                batch, row, skip = batch.slice(skip), row + skip, 0
            yield row, batch
            row += batch.num_rows
    except (pa.ArrowException, OSError) as error:
        # NOTE: a damaged data page behind an intact footer is found only here, after
        # earlier batches of the file were committed. They stay, so that a rerun with a
        # good copy of the file (same footer, same fingerprint) resumes after them.
        raise CorruptParquetError(
            f"{source.origin}: cannot decode rows after row {row} ({error}). "
            "Rows before it are kept; download the file again and rerun to finish it."
        ) from error


def row_groups_from(metadata: pq.FileMetaData, start_row: int) -> tuple[list[int], int]:
    """Return the row groups that hold rows from ``start_row`` on, and the first one's start."""
    first = 0
    for group in range(metadata.num_row_groups):
        rows = metadata.row_group(group).num_rows
        if first + rows > start_row:
            return list(range(group, metadata.num_row_groups)), first
        first += rows
    return [], first
