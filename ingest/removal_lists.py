"""The inputs of a removal: URL lists, LAION hash lists and Re-LAION shards to keep.

Lists are read line by line and shards batch by batch, so neither is ever held in
memory whole. An invalid line raises an error naming the file, the line number and
the value, and the removal's transaction then rolls back.
"""

from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow.parquet as pq

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class RemovalError(Exception):
    """Base class of removal errors. All of them leave the database unchanged, except
    VectorIndexRewriteError, which is raised after the database change was committed."""


class RemovalListError(RemovalError):
    """A URL or hash list is missing, empty or has an invalid line."""


class KeepShardError(RemovalError):
    """A Re-LAION shard given to keep-only is missing, unreadable or has no URL column."""


def read_url_list(path: str | Path) -> Iterator[str]:
    """Yield the URLs of a one-per-line file; blank lines and ``#`` comments are skipped."""
    for line_number, text in _read_lines(path):
        if text.lstrip("+-").isdigit():
            raise RemovalListError(
                f"{path}, line {line_number}: {text!r} is not a URL. "
                "It looks like a LAION hash value: pass the file with --hashes instead."
            )
        yield text


def read_hash_list(path: str | Path) -> Iterator[int]:
    """Yield the int64 LAION ``hash`` values of a one-per-line file."""
    for line_number, text in _read_lines(path):
        try:
            value = int(text)
        except ValueError:
            raise RemovalListError(
                f"{path}, line {line_number}: {text!r} is not an integer. "
                "Expected one LAION hash value (int64, e.g. -3942810832793181892) per line."
            ) from None
        if not INT64_MIN <= value <= INT64_MAX:
            raise RemovalListError(
                f"{path}, line {line_number}: {text!r} is outside the int64 range of LAION hash values."
            )
        yield value


def require_list_file(path: str | Path) -> Path:
    """Return ``path`` as a Path, or raise RemovalListError if no such file exists."""
    path = Path(path)
    if not path.is_file():
        raise RemovalListError(f"List file {str(path)!r} not found.")
    return path


def _read_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    path = require_list_file(path)
    with path.open("rb") as handle:
        for line_number, raw in enumerate(handle, 1):
            try:
                text = raw.decode("utf-8").strip()
            except UnicodeDecodeError as error:
                raise RemovalListError(
                    f"{path}, line {line_number}: not valid UTF-8 ({error.reason}). "
                    "Save the list as UTF-8 text."
                ) from None
            if text and not text.startswith("#"):
                yield line_number, text


def shard_files(shards: Iterable[str | Path]) -> list[Path]:
    """Return the parquet files named by ``shards`` (files, or folders searched recursively)."""
    files: list[Path] = []
    for shard in map(Path, shards):
        if shard.is_dir():
            found = sorted(shard.rglob("*.parquet"))
            if not found:
                raise KeepShardError(f"Folder {str(shard)!r} contains no .parquet files.")
            files.extend(found)
        elif shard.is_file():
            files.append(shard)
        else:
            raise KeepShardError(f"Re-LAION shard {str(shard)!r} not found.")
    if not files:
        raise KeepShardError("No Re-LAION shards given: pass at least one parquet file or folder.")
    return files


def read_shard_urls(path: Path) -> Iterator[list[str]]:
    """Yield batches of the non-null URLs of one Re-LAION parquet file (column ``url`` or ``URL``)."""
    try:
        parquet = pq.ParquetFile(path)
    except Exception as error:  # pyarrow raises several unrelated types for a bad file
        raise KeepShardError(f"Failed to read {str(path)!r} as parquet: {error}. Pass Re-LAION parquet files.") from error
    names = parquet.schema_arrow.names
    column = next((name for name in names if name.lower() == "url"), None)
    if column is None:
        raise KeepShardError(
            f"{str(path)!r} has no url or URL column (columns: {', '.join(names)}). "
            "Pass Re-LAION metadata shards."
        )
    for batch in parquet.iter_batches(batch_size=65_536, columns=[column]):
        yield [url for url in batch.column(0).to_pylist() if url is not None]
