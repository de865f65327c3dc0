"""The ingest report: rows read, written and skipped (and why), duplicate URLs and
columns that were not stored. It is printed at the end and kept in ``ingest_reports``."""

import json
import sqlite3
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class IngestReport:
    """Counts for one run of the ingest; a resumed run counts only what it did itself."""

    sources: list[str]
    started_at: str
    finished_at: str | None = None
    files_ingested: list[str] = field(default_factory=list)
    files_already_in: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_written: int = 0
    skipped: Counter = field(default_factory=Counter)
    duplicate_urls: int = 0
    unknown_columns: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0

    def count(self, read: int, written: int, skipped: dict[str, int]) -> None:
        """Add one batch's counts."""
        self.rows_read += read
        self.rows_written += written
        self.skipped.update(skipped)

    @property
    def rows_skipped(self) -> int:
        return sum(self.skipped.values())

    def save(self, conn: sqlite3.Connection) -> None:
        """Insert this report into ``ingest_reports`` (inside the caller's transaction)."""
        conn.execute(
            "INSERT INTO ingest_reports (started_at, finished_at, sources, rows_read, rows_written, "
            "rows_skipped, skipped_reasons, duplicate_urls, unknown_columns) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self.started_at, self.finished_at, json.dumps(self.sources), self.rows_read,
                self.rows_written, self.rows_skipped, json.dumps(dict(self.skipped)),
                self.duplicate_urls, json.dumps(self.unknown_columns),
            ),
        )

    def format(self) -> str:
        """Return the report as a few lines of text for the terminal."""
        rate = self.rows_written / self.seconds if self.seconds else 0.0
        already = ", ".join(self.files_already_in)
        lines = [
            f"Files ingested: {len(self.files_ingested)}"
            + (f" (already in, skipped: {already})" if already else ""),
            (
                f"Rows read: {self.rows_read:,}; written: {self.rows_written:,} "
                f"in {self.seconds:.1f} s ({rate:,.0f} rows/s); skipped: {self.rows_skipped:,}"
            ),
        ]
        lines += [f"  skipped, {reason}: {count:,}" for reason, count in sorted(self.skipped.items())]
        lines.append(f"Rows whose URL is also on an earlier row of the database: {self.duplicate_urls:,}")
        for name, columns in self.unknown_columns.items():
            lines.append(f"Columns not stored from {name}: {', '.join(columns)}")
        return "\n".join(lines)
