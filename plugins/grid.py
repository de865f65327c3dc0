"""Image grid over a full-text search, a similarity search or all images: ``/-/grid``.

``?q=...`` searches captions (``_phrase=1`` keeps the words together as one phrase),
``?similar=ROWID`` shows the nearest neighbours of a row through the vector index, and
neither shows every image, newest first. ``aesthetic_min``, ``punsafe_max`` and
``pwatermark_max`` filter the rows (a row with no score fails a filter on that score);
``_size`` and ``_next`` page through them. Thumbnails of rows scored unsafe stay
hidden unless the URL has ``_unsafe=1``.
"""

from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.utils.asgi import BadRequest, Response

from laionlens import caption_stats
from laionlens.config import lens_config
from laionlens.text import literal_query
from plugins import grid_similar
from plugins._pages import (
    allow_methods,
    flag_param,
    float_param,
    image_item,
    images_database,
    int_param,
    page_response,
    page_url,
    text_param,
)

DEFAULT_SIZE = 48
MAX_SIZE = 200
COLUMNS = "i.id, i.url, i.caption, i.aesthetic, i.punsafe, i.pwatermark, d.domain"
FILTERS = (  # parameter, column, comparison, lowest, highest
    ("aesthetic_min", "aesthetic", ">=", 0.0, 10.0),
    ("punsafe_max", "punsafe", "<=", 0.0, 1.0),
    ("pwatermark_max", "pwatermark", "<=", 0.0, 1.0),
)


def read_filters(request) -> dict:
    """Return the score filters given in the request, by parameter name."""
    values = {}
    for name, _, _, low, high in FILTERS:
        value = float_param(request, name, low, high)
        if value is not None:
            values[name] = value
    return values


def filter_sql(filters: dict) -> tuple[list[str], dict]:
    clauses = [f"i.{column} {op} :{name}" for name, column, op, _, _ in FILTERS if name in filters]
    return clauses, dict(filters)


def search_sql(query: str | None, filters: dict, after: int | None, size: int) -> tuple[str, dict]:
    """Return the SQL and parameters for one page of a caption search (or of all images)."""
    clauses, params = filter_sql(filters)
    params["size"] = size + 1
    if query is None:
        source, key = "images i", "i.id"
    else:
        source, key = "images_fts f JOIN images i ON i.id = f.rowid", "f.rowid"
        clauses.insert(0, "f.images_fts MATCH :query")
        params["query"] = query
    if after is not None:
        clauses.append(f"{key} < :after")
        params["after"] = after
    where = " WHERE " + " AND ".join(clauses) if clauses else ""
    sql = (f"SELECT {COLUMNS} FROM {source} LEFT JOIN domains d ON d.id = i.domain_id"
           f"{where} ORDER BY {key} DESC LIMIT :size")
    return sql, params


def fts_query(request) -> str | None:
    text = text_param(request, "q", required=False)
    if text is None:
        return None
    try:
        if flag_param(request, "_phrase"):
            return caption_stats.phrase_query(text)
    except caption_stats.EmptyQueryError as error:
        raise BadRequest(str(error))
    return literal_query(text)


async def search_page(database, request, filters: dict, size: int) -> dict:
    """Return rows and the next cursor of a caption search, newest first."""
    after = int_param(request, "_next", None, 0, 2**63 - 1)
    sql, params = search_sql(fts_query(request), filters, after, size)
    try:
        result = await database.execute(sql, params)
    except QueryInterrupted:
        raise BadRequest("This search timed out. Add words to the query or loosen the score filters.")
    rows = [dict(row) for row in result.rows]
    next_cursor = rows[size - 1]["id"] if len(rows) > size else None
    return {"rows": rows[:size], "next": next_cursor, "message": None}


def grid_mode(request) -> tuple[str, int | None]:
    """Return the grid's source ("similar", "search" or "all") and the similar row id."""
    similar = int_param(request, "similar", None, 1, 2**63 - 1)
    searching = text_param(request, "q", required=False) is not None
    if similar is not None and searching:
        raise BadRequest("Give either q (a caption search) or similar (a row id), not both")
    if similar is not None:
        return "similar", similar
    return ("search" if searching else "all"), None


async def grid_data(datasette, request) -> dict:
    """Return one page of the grid: its tiles, the next-page link and what was asked."""
    config = lens_config(datasette)
    filters = read_filters(request)
    size = int_param(request, "_size", DEFAULT_SIZE, 1, MAX_SIZE)
    mode, similar = grid_mode(request)
    database = await images_database(datasette)
    if mode == "similar":
        page = await grid_similar.similar_page(datasette, database, request, similar, filters, size)
    else:
        page = await search_page(database, request, filters, size)
    show_unsafe = flag_param(request, "_unsafe")

    def tile(row):
        return image_item(datasette, database.name, row, config["punsafe_threshold"], show_unsafe)

    items = [tile(row) for row in page["rows"]]
    return {
        "mode": mode, "q": text_param(request, "q", required=False), "similar": similar,
        "filters": filters, "size": size,
        "source": tile(page["source"]) if page.get("source") else None,
        "rows": items, "next": page["next"], "message": page["message"],
        "next_url": page_url(request, _next=page["next"]) if page["next"] is not None else None,
        "hidden_count": sum(item["hidden"] for item in items),
        "unsafe_threshold": config["punsafe_threshold"],
    }


async def grid_view(datasette, request):
    data = await grid_data(datasette, request)
    if request.args.get("_shape") == "array":
        return Response.json(data["rows"], default=str)
    extra = {"show_unsafe": flag_param(request, "_unsafe"),
             "unsafe_url": page_url(request, _unsafe="1", _next=None),
             "args": request.args}
    return await page_response(datasette, request, "grid.html", data, extra)


@hookimpl
def menu_links(datasette):
    return [{"href": datasette.urls.path("/-/grid"), "label": "Image grid"}]


@hookimpl
def register_routes():
    return [(r"^/-/grid(?P<format>\.json)?$", allow_methods("GET")(grid_view))]
