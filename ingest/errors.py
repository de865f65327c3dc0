"""One exception per way an ingest can fail. The CLI turns each into a click error.

Every check that raises one of these runs before the database is opened, so a bad
source never leaves a half-written database behind.
"""


class IngestError(Exception):
    """Base class of every ingest failure. The message names the bad value and the fix."""


class SourceNotFoundError(IngestError):
    """A SOURCE argument names no file, folder or http(s) URL."""


class UnsupportedSchemeError(IngestError):
    """A SOURCE argument is a URL of a scheme other than http or https (ftp://, s3://)."""


class NoParquetFilesError(IngestError):
    """A folder given as SOURCE contains no ``*.parquet`` file."""


class DownloadError(IngestError):
    """An http(s) SOURCE could not be downloaded."""


class EmptyFileError(IngestError):
    """A source file has 0 bytes."""


class NotParquetError(IngestError):
    """A source file does not start with the parquet magic bytes."""


class TruncatedParquetError(IngestError):
    """A source file starts like parquet but its footer is missing or unreadable."""


class MissingColumnError(IngestError):
    """A parquet file lacks the URL or the caption column."""


class ColumnTypeError(IngestError):
    """A known column has a type that cannot be stored in its ``images`` column."""


class DatabaseOpenError(IngestError):
    """The --db file cannot be opened or created as an SQLite database."""


class DatabaseLockedError(IngestError):
    """Another connection holds a lock on the --db file for longer than the busy timeout."""


class CorruptParquetError(IngestError):
    """A data page could not be decoded after the footer was read successfully."""
