"""Statistics over captions that match a word or a name, for the name and keyword pages.

Global figures come from the full-text index itself: an ``fts5vocab`` table gives the
number of captions that contain each term, and FTS5's own record of how many rows it
indexed gives the size of the dataset, both without scanning ``images``. Figures that
need the captions (words that appear alongside, domains, aesthetic scores) come from a
sample of the matches with the highest ids, whose size the pages show.

Every function takes an open ``sqlite3.Connection`` so that the web pages can run them
through ``Database.execute_fn`` and the benchmarks can call them directly.
"""

import math
import re
import unicodedata
from collections import Counter

from laionlens.text import fts_text

# Words too common to say anything about a keyword. Short on purpose: the lift ranking
# already pushes down words that are common everywhere.
STOPWORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in",
    "into", "is", "it", "its", "of", "on", "or", "that", "the", "this", "to", "was",
    "with", "without", "de", "la", "le", "les", "des", "du", "el", "en", "et", "y",
    "und", "der", "die", "das", "mit", "von", "i", "you", "your", "we", "our", "my",
    "me", "he", "she", "they", "them", "his", "her", "their", "not", "no", "so", "but",
    "if", "than", "then", "up", "down", "out", "over", "under", "all", "any", "some",
    "more", "most", "very", "can", "will", "just",
))

_TOKEN = re.compile(r"[^\W_]+")
VOCAB_TABLE = "images_fts_vocab"


class EmptyQueryError(ValueError):
    """A name or keyword with no letters or digits, which no caption can match."""


def tokens(text: str | None) -> list[str]:
    """Split ``text`` into the terms the FTS5 ``unicode61 remove_diacritics 2`` tokenizer makes.

    Close enough to look the terms up in the vocabulary: lower case, accents removed,
    letters and digits kept, everything else a separator.
    """
    folded = (fts_text(text) or "").lower()
    if not folded.isascii():
        decomposed = unicodedata.normalize("NFD", folded)
        folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _TOKEN.findall(folded)


def phrase_query(text: str) -> str:
    """Return an FTS5 query matching ``text`` as one phrase: its words, adjacent, in order.

    Raises EmptyQueryError when ``text`` has no letters or digits.
    """
    if not tokens(text):
        raise EmptyQueryError(
            f"{text!r} has no letters or digits to search for. Give a word or a name."
        )
    return '"' + fts_text(text).replace('"', '""') + '"'


def ensure_vocab(conn) -> None:
    """Create the fts5vocab table over images_fts for this connection if it is missing.

    It lives in the connection's temp schema, so it works on read-only databases and
    never shows up among the tables Datasette lists.
    """
    conn.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{VOCAB_TABLE} "
        "USING fts5vocab(main, images_fts, 'row')"
    )


def _read_varint(data: bytes) -> int:
    """Decode the SQLite varint at the start of ``data`` (big-endian, 7 bits a byte)."""
    value = 0
    for position, byte in enumerate(data[:9]):
        if position == 8:
            return (value << 8) | byte
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value
    return value


def indexed_rows(conn) -> int:
    """Return how many rows the full-text index holds, which is the number of images.

    FTS5 keeps this count at the start of its "averages" record (row 1 of the _data
    table), so reading it is instant where ``count(*)`` over 12 million rows is not.
    """
    row = conn.execute("SELECT block FROM images_fts_data WHERE id = 1").fetchone()
    if row is None or not row[0]:
        return conn.execute("SELECT count(*) FROM images").fetchone()[0]
    return _read_varint(bytes(row[0]))


def doc_counts(conn, terms) -> dict[str, int]:
    """Return, for each term, the number of captions in the whole index that contain it."""
    ensure_vocab(conn)
    counts = {}
    for term in terms:
        row = conn.execute(f"SELECT doc FROM temp.{VOCAB_TABLE} WHERE term = ?", (term,))
        found = row.fetchone()
        counts[term] = found[0] if found else 0
    return counts


def match_count(conn, query: str, cap: int | None = None) -> tuple[int, bool]:
    """Count the images whose caption matches ``query`` and return (count, exact).

    With ``cap``, counting stops after cap + 1 matches and exact is False beyond cap.
    Only the index is read, without joining ``images``: a removal deletes a row from
    both (ingest/remove.py), and ``laionlens check`` verifies that they agree.
    """
    limit = "" if cap is None else f" LIMIT {int(cap) + 1}"
    sql = f"SELECT count(*) FROM (SELECT rowid FROM images_fts WHERE images_fts MATCH ?{limit})"
    count = conn.execute(sql, (query,)).fetchone()[0]
    if cap is not None and count > cap:
        return cap, False
    return count, True


SAMPLE_COLUMNS = ("id", "url", "caption", "aesthetic", "punsafe", "pwatermark", "domain")


def sample_matches(conn, query: str, size: int) -> list[dict]:
    """Return up to ``size`` matching rows, highest ids first, with their domain."""
    sql = (
        "SELECT i.id, i.url, i.caption, i.aesthetic, i.punsafe, i.pwatermark, d.domain"
        " FROM images_fts f JOIN images i ON i.id = f.rowid"
        " LEFT JOIN domains d ON d.id = i.domain_id"
        " WHERE f.images_fts MATCH ? ORDER BY f.rowid DESC LIMIT ?"
    )
    return [dict(zip(SAMPLE_COLUMNS, row)) for row in conn.execute(sql, (query, size))]


def caption_term_counts(captions, exclude=()) -> Counter:
    """Count, for each term, how many of ``captions`` contain it (once per caption).

    Stopwords, single characters, bare numbers and the ``exclude`` terms are left out.
    """
    skip = set(exclude)
    counts = Counter()
    for caption in captions:
        for term in set(tokens(caption)):
            if len(term) > 1 and not term.isdigit() and term not in STOPWORDS and term not in skip:
                counts[term] += 1
    return counts


def top_terms(captions, exclude=(), limit: int = 20) -> list[dict]:
    """Return the terms found in the most ``captions``, with their count and share."""
    total = len(captions)
    counts = caption_term_counts(captions, exclude)
    return [
        {"term": term, "count": count, "share": count / total}
        for term, count in counts.most_common(limit)
    ]


def domain_counts(rows, limit: int = 10) -> list[dict]:
    """Return the most frequent domains among ``rows`` with their counts."""
    counts = Counter(row["domain"] or "(unknown)" for row in rows)
    return [{"domain": domain, "count": count} for domain, count in counts.most_common(limit)]


def histogram(values, width: float = 0.5) -> list[dict]:
    """Count ``values`` (None skipped) in bins of ``width``, keeping empty bins inside the range."""
    present = [value for value in values if value is not None]
    if not present:
        return []
    low = math.floor(min(present) / width) * width
    bins = math.floor((max(present) - low) / width) + 1
    counts = [0] * bins
    for value in present:
        counts[min(int((value - low) // width), bins - 1)] += 1
    return [
        {"low": round(low + i * width, 6), "high": round(low + (i + 1) * width, 6), "count": c}
        for i, c in enumerate(counts)
    ]
