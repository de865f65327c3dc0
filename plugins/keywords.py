"""Keyword explorer for prompt engineers: ``/-/keywords?q=cat`` and ``?q=cat&vs=dog``.

For a word or phrase: how many captions contain it and what share of the dataset that
is, the terms that come with it ranked by lift, and examples. A single word's count is
read from the full-text index's vocabulary; a phrase is counted up to ``count_cap``.
Co-occurring terms come from a sample of matches (the highest ids), whose size the
page states. laionlens/lift.py explains how their overall counts are found.
"""

import logging
import sqlite3

from datasette import hookimpl
from datasette.utils.asgi import BadRequest, NotFound

from laionlens import caption_stats, lift
from laionlens.config import lens_config
from plugins._pages import (
    allow_methods,
    flag_param,
    form_response,
    image_item,
    images_database,
    page_response,
    page_url,
    text_param,
)

log = logging.getLogger("laionlens.keywords")

SAMPLE_SIZE = 2000
EXAMPLES = 12
_BACKGROUND = "_laionlens_term_background"


def keyword_count(conn, keyword: str, count_cap: int) -> tuple[int, bool]:
    """Count the captions that contain ``keyword`` and return (count, exact)."""
    terms = caption_stats.tokens(keyword)
    if len(terms) == 1:
        return caption_stats.doc_counts(conn, terms)[terms[0]], True
    return caption_stats.match_count(conn, caption_stats.phrase_query(keyword), cap=count_cap)


def keyword_figures(conn, keyword: str, count_cap: int, background: dict,
                    sample_size: int = SAMPLE_SIZE) -> dict:
    """Return the figures for one keyword (blocking; run in execute_fn)."""
    query = caption_stats.phrase_query(keyword)
    dataset_rows = caption_stats.indexed_rows(conn)
    count, exact = keyword_count(conn, keyword, count_cap)
    sample = caption_stats.sample_matches(conn, query, sample_size)
    captions = [row["caption"] for row in sample]
    exclude = caption_stats.tokens(keyword)
    return {
        "keyword": keyword,
        "fts_query": query,
        "count": count,
        "count_exact": exact,
        "share": count / dataset_rows if dataset_rows else 0.0,
        "sample_size": len(sample),
        "co_terms": lift.terms_by_lift(conn, captions, exclude, dataset_rows, background),
        "rows": sorted(sample, key=lambda row: -(row["aesthetic"] or 0))[:EXAMPLES],
    }


def explore(conn, keyword: str, versus: str | None, count_cap: int, background: dict) -> dict:
    """Return the figures for ``keyword``, and for ``versus`` with the overlap if given."""
    result = {"dataset_rows": caption_stats.indexed_rows(conn), "count_cap": count_cap,
              "background_size": background["size"], "background_complete": background["complete"],
              "q": keyword_figures(conn, keyword, count_cap, background), "vs": None, "both": None}
    if versus:
        result["vs"] = keyword_figures(conn, versus, count_cap, background)
        both = result["q"]["fts_query"] + " AND " + result["vs"]["fts_query"]
        count, exact = caption_stats.match_count(conn, both, cap=count_cap)
        result["both"] = {"count": count, "exact": exact}
    return result


async def background_for(datasette, database) -> dict:
    """Background term counts of ``database`` (see laionlens.lift), kept on the Datasette
    instance and recomputed when rows were ingested or removed since."""
    key = await database.execute_fn(lift.background_key)
    cache = getattr(datasette, _BACKGROUND, None)
    if cache is None:
        cache = {}
        setattr(datasette, _BACKGROUND, cache)
    if database.name not in cache or cache[database.name][0] != key:
        cache[database.name] = (key, await database.execute_fn(lift.background_counts))
    return cache[database.name][1]


def add_examples(datasette, database_name: str, figures: dict, threshold: float, show_unsafe: bool):
    figures["examples"] = [
        image_item(datasette, database_name, row, threshold, show_unsafe)
        for row in figures.pop("rows")
    ]


async def keywords_page(datasette, request):
    keyword = text_param(request, "q", required=False)
    if keyword is None:
        return await form_response(datasette, request, "keywords.html", "q")
    versus = text_param(request, "vs", required=False)
    config = lens_config(datasette)
    database = await images_database(datasette)
    background = await background_for(datasette, database)
    try:
        result = await database.execute_fn(
            lambda conn: explore(conn, keyword, versus, config["count_cap"], background))
    except caption_stats.EmptyQueryError as error:
        raise BadRequest(str(error))
    show_unsafe = flag_param(request, "_unsafe")
    for figures in (result["q"], result["vs"]):
        if figures:
            add_examples(datasette, database.name, figures, config["punsafe_threshold"], show_unsafe)
    extra = {"show_unsafe": show_unsafe, "unsafe_url": page_url(request, _unsafe="1")}
    return await page_response(datasette, request, "keywords.html", result, extra)


@hookimpl
def startup(datasette):
    """Count the background terms before the first keyword page needs them."""
    async def warm_up():
        try:
            database = await images_database(datasette)
            await background_for(datasette, database)
        except (NotFound, sqlite3.Error) as error:  # a failed warm-up must not stop the server
            log.warning("could not count background terms at startup: %s", error)
        else:
            log.info("counted background terms of database %s", database.name)

    return warm_up


@hookimpl
def menu_links(datasette):
    return [{"href": datasette.urls.path("/-/keywords"), "label": "Keyword explorer"}]


@hookimpl
def register_routes():
    return [(r"^/-/keywords(?P<format>\.json)?$", allow_methods("GET")(keywords_page))]
