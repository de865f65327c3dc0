"""How often a prompt's words, and the prompt as a whole, occur in training captions.

Counts come from the full-text index, so they follow its tokenizer: case and accents
are folded and punctuation splits words. Each count is exact up to ``count_cap`` rows
and reported as capped beyond, so that a word like "a" over millions of captions
costs a bounded scan.
"""

import logging
import re
from urllib.parse import urlencode

from datasette.database import QueryInterrupted

from laionlens.text import fts_text, literal_query

log = logging.getLogger("laionlens.prompt_counts")

MAX_WORDS = 32
_WORD = re.compile(r"[^\W_]+")
COUNT_SQL = (
    "SELECT count(*) FROM (SELECT rowid FROM images_fts WHERE images_fts MATCH :query LIMIT :limit)"
)


def prompt_words(prompt: str) -> list[str]:
    """Return the distinct words of ``prompt`` in order, at most MAX_WORDS of them.

    Words are split as the FTS5 tokenizer splits them (letters and digits; punctuation
    and underscores separate), so "cat," counts as "cat".
    """
    seen = {}
    for word in _WORD.findall(fts_text(prompt) or ""):
        seen.setdefault(word.casefold(), word)
    return list(seen.values())[:MAX_WORDS]


def phrase_query(prompt: str) -> str | None:
    """Return an FTS5 query matching the words of ``prompt`` next to each other, in order."""
    text = " ".join((fts_text(prompt) or "").split())
    return '"' + text.replace('"', '""') + '"' if text else None


def search_link(table_path: str, query: str, raw: bool = False) -> str:
    params = {"_search": query}
    if raw:
        params["_searchmode"] = "raw"
    return f"{table_path}?{urlencode(params)}"


async def count_matches(db, query: str, cap: int) -> dict:
    """Count captions matching the FTS5 ``query``, stopping at ``cap`` + 1."""
    try:
        result = await db.execute(COUNT_SQL, {"query": query, "limit": cap + 1})
    except QueryInterrupted:
        log.info("caption count for %r hit the time limit", query)
        return {"count": None, "capped": False, "timed_out": True}
    count = result.first()[0]
    return {"count": min(count, cap), "capped": count > cap, "timed_out": False}


async def prompt_counts(db, table_path: str, prompt: str, cap: int) -> dict:
    """Return caption counts with search links for each word of ``prompt``, for all its
    words anywhere in a caption, and for its words as one exact phrase. ``table_path``
    is the URL path of the images table, such as ``/laion/images``."""
    words = []
    for word in prompt_words(prompt):
        counted = await count_matches(db, literal_query(word), cap)
        words.append({"word": word, **counted, "search_url": search_link(table_path, word)})
    return {
        "words": words,
        "all_words": await whole_prompt_count(db, literal_query(prompt), search_link(table_path, prompt), cap),
        "phrase": await whole_prompt_count(
            db, phrase_query(prompt), search_link(table_path, phrase_query(prompt) or "", raw=True), cap
        ),
        "cap": cap,
    }


async def whole_prompt_count(db, query: str | None, link: str, cap: int) -> dict:
    if query is None:
        return {"query": None, "count": None, "capped": False, "timed_out": False, "search_url": None}
    return {"query": query, **await count_matches(db, query, cap), "search_url": link}
