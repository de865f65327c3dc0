"""Export of every image whose caption mentions a name, for an opt-out request.

``/-/name/export.csv?name=...`` and ``/-/name/export.json?name=...`` stream id, url,
caption and domain of each match as a download. Rows are read in chunks, walking the
full-text index by rowid, so memory stays flat however many rows match. The routes
are registered by plugins/name_report.py.
"""

import csv
import io
import json
import logging
import re
import unicodedata
from urllib.parse import quote

from datasette.utils.asgi import AsgiStream, BadRequest

from laionlens import caption_stats
from plugins._pages import images_database, text_param

log = logging.getLogger("laionlens.name_export")

CHUNK_ROWS = 1000
FIELDS = ("id", "url", "caption", "domain")


def export_chunk(conn, query: str, after_id: int, size: int = CHUNK_ROWS):
    """Return (rows, last_id): the next ``size`` matches with an id above ``after_id``.

    ``last_id`` is None when no match is left. A chunk can hold fewer rows than it read
    from the index when some were removed from ``images``.
    """
    ids = [row[0] for row in conn.execute(
        "SELECT rowid FROM images_fts WHERE images_fts MATCH ? AND rowid > ?"
        " ORDER BY rowid LIMIT ?", (query, after_id, size))]
    if not ids:
        return [], None
    placeholders = ",".join("?" * len(ids))
    rows = conn.execute(
        "SELECT i.id, i.url, i.caption, d.domain FROM images i"
        f" LEFT JOIN domains d ON d.id = i.domain_id WHERE i.id IN ({placeholders})"
        " ORDER BY i.id", ids).fetchall()
    return [dict(zip(FIELDS, row)) for row in rows], ids[-1]


# Spreadsheet programs run a cell that starts with one of these as a formula, and an
# export is meant to be opened by whoever receives an opt-out request.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """Prefix a text cell that a spreadsheet would run as a formula with an apostrophe.

    The JSON export keeps every caption unchanged for programs that need the exact text.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_text(rows, header: bool) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if header:
        writer.writerow(FIELDS)
    writer.writerows([spreadsheet_safe(row[field]) for field in FIELDS] for row in rows)
    return buffer.getvalue()


def json_text(rows, first: bool) -> str:
    body = ",\n".join(json.dumps(row, ensure_ascii=False) for row in rows)
    return ("" if first or not body else ",\n") + body


def file_stem(name: str) -> str:
    """Return an ASCII file name stem for ``name``: accents dropped (Dvořák becomes dvorak)."""
    # NFKD splits a letter from its accents, which are combining marks. Letters with
    # no decomposition (ß, ø, CJK) are still dropped.
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    slug = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")
    return f"laion-captions-{slug or 'name'}"


def content_disposition(name: str, extension: str) -> str:
    """Return an attachment header with an ASCII file name and the original one (RFC 6266, 5987)."""
    # The same slug as the ASCII name, but keeping letters of any script.
    unicode_slug = re.sub(r"[\W_]+", "-", unicodedata.normalize("NFC", name).lower()).strip("-")
    encoded = quote(f"laion-captions-{unicode_slug or 'name'}.{extension}", safe="")
    return f"attachment; filename=\"{file_stem(name)}.{extension}\"; filename*=UTF-8''{encoded}"


async def export(datasette, request):
    name = text_param(request, "name")
    file_format = request.url_vars["file_format"]
    try:
        query = caption_stats.phrase_query(name)
    except caption_stats.EmptyQueryError as error:
        raise BadRequest(str(error))
    database = await images_database(datasette)

    async def stream(writer):
        after, written = 0, 0
        await writer.write("[\n" if file_format == "json" else csv_text([], header=True))
        while True:
            rows, after = await database.execute_fn(
                lambda conn, after=after: export_chunk(conn, query, after, CHUNK_ROWS))
            if after is None:
                break
            text = json_text(rows, first=written == 0) if file_format == "json" else csv_text(rows, False)
            await writer.write(text)
            written += len(rows)
        await writer.write("\n]\n" if file_format == "json" else "")
        log.info("exported %d rows matching name %r as %s", written, name, file_format)

    content_type = "application/json" if file_format == "json" else "text/csv"
    disposition = content_disposition(name, file_format)
    return AsgiStream(stream, headers={"content-disposition": disposition},
                      content_type=content_type + "; charset=utf-8")

