"""Caption search: any text is searched as literal words; FTS5 syntax with _searchmode=raw.

Datasette's own ``?_search=`` filter (``datasette.filters.search_filters``) passes text
through its ``escape_fts()``, which lets some user text reach FTS5 as syntax, and it
cannot apply :func:`laionlens.text.fts_text`, the folding the caption index was built
with. :func:`replace_default_search` unregisters that module from Datasette's plugin
manager. This module registers its other two filters again (imported below) and its
own ``search_filters`` in place of the default one. Tables other than ``images`` keep
Datasette's behaviour: the default filter is called for them unchanged. For the
``images`` table the hook also rejects with a 400 the arguments that make Datasette
0.65 fail with a 500 (an unknown ``_sort`` column, ``_timelimit=abc``). The filter
hooks run before Datasette reads those arguments.
"""

import logging
import sqlite3

from datasette import filters as default_filters
from datasette import hookimpl
from datasette.filters import FilterArguments, through_filters, where_filters  # noqa: F401
from datasette.utils import escape_sqlite
from datasette.utils.asgi import BadRequest

from laionlens.config import lens_config
from laionlens.text import fts_text, literal_query

log = logging.getLogger("laionlens.search")

FTS_TABLE = "images_fts"
SEARCH_MODES = ("escaped", "raw")
# extra_context key of the id subquery when a search is the page's only filter.
MATCHING_IDS_KEY = "lens_matching_ids_sql"
# Query string arguments that filter rows without naming a column.
ROW_FILTER_ARGS = ("_where", "_through")
# Every word of a literal search is one FTS5 phrase that each row must contain. Past a
# few hundred words the query only costs CPU time, so longer text gets a 400.
MAX_SEARCH_CHARS = 1000


def replace_default_search(plugin_manager) -> None:
    """Unregister Datasette's default filter module; safe to call more than once.

    The caller must register this module too, since it carries the default module's
    ``where_filters`` and ``through_filters`` besides the new ``search_filters``.
    """
    if plugin_manager.get_plugin("datasette.filters") is not None:
        plugin_manager.unregister(name="datasette.filters")


@hookimpl(specname="filters_from_request")
def search_filters(request, database, table, datasette):
    async def inner():
        metadata = datasette.table_metadata(database, table)
        if metadata.get("fts_table") != FTS_TABLE:
            return await default_filters.search_filters(request, database, table, datasette)()
        await check_table_args(request, datasette.get_database(database), table)
        return await caption_search(request, datasette, database, metadata)

    return inner


async def check_table_args(request, db, table: str) -> None:
    """Raise BadRequest for the arguments Datasette 0.65 would reject with a 500."""
    limit = request.args.get("_timelimit")
    if limit is not None and not (limit.isascii() and limit.isdigit()):
        raise BadRequest(f"Invalid _timelimit {limit!r}: give a whole number of milliseconds")
    sort, sort_desc = request.args.get("_sort"), request.args.get("_sort_desc")
    if sort and sort_desc:
        raise BadRequest("Use _sort or _sort_desc, not both")
    columns = await db.table_columns(table)
    for name, value in (("_sort", sort), ("_sort_desc", sort_desc)):
        if value and value not in columns:
            raise BadRequest(f"Cannot sort by {value!r}: {name} takes one of {', '.join(columns)}")
    check_argument_values(request)
    cursor = request.args.get("_next")
    if cursor is not None and not (sort or sort_desc) and not is_integer_text(cursor):
        raise BadRequest(f"Invalid _next {cursor!r}: use the next_url of the previous page")


def is_integer_text(value: str) -> bool:
    """Return whether ``value`` is a whole number that fits an SQLite INTEGER."""
    digits = value.removeprefix("-")
    return digits.isascii() and digits.isdigit() and -(2**63) <= int(value) < 2**63


def check_argument_values(request) -> None:
    """Raise BadRequest for argument values that Datasette's own filters turn into a 500."""
    pairs = [(key, value) for key in request.args for value in request.args.getlist(key)]
    for key, value in pairs:
        # Search text may hold a NUL, because fts_text() turns it into a space.
        if "\x00" in key or ("\x00" in value and not key.startswith("_search")):
            raise BadRequest(f"Invalid argument {key!r}: it contains a NUL byte")
        # Datasette converts a value that str.isdigit() accepts with int(), which
        # fails on digits such as "²" and on numbers beyond 64 bits.
        if not key.startswith("_") and value.isdigit() and not is_integer_text(value):
            raise BadRequest(f"Invalid number {value!r} for {key!r}: use ASCII digits within 64 bits")
    size = request.args.get("_facet_size")
    if size is not None and size != "max" and not is_integer_text(size):
        raise BadRequest(f"Invalid _facet_size {size!r}: give a whole number or 'max'")


def search_arguments(request) -> list[tuple[str | None, str]]:
    """Return (column or None, text) for each ``_search`` / ``_search_<column>`` argument."""
    found = []
    for key in request.args:
        if key == "_search":
            found.append((None, request.args[key]))
        elif key.startswith("_search_") and key != "_searchmode":
            found.append((key[len("_search_"):], request.args[key]))
    return found


def search_mode(request, metadata: dict) -> str:
    """Return "raw" or "escaped" (literal text) from ``_searchmode`` or the table metadata."""
    mode = request.args.get("_searchmode") or metadata.get("searchmode") or "escaped"
    if mode not in SEARCH_MODES:
        raise BadRequest(
            f"Invalid _searchmode {mode!r}: use one of {', '.join(SEARCH_MODES)}, "
            "or leave it out to search the text literally"
        )
    return mode


async def caption_search(request, datasette, database: str, metadata: dict) -> FilterArguments:
    """Build the WHERE clauses for the caption searches in ``request``."""
    db = datasette.get_database(database)
    searches = await parsed_searches(request, db, search_mode(request, metadata))
    after = prefix_start(request, metadata) if len(searches) == 1 else None
    config = lens_config(datasette)
    # Enough ids for the largest page Datasette serves and for the domain facet sample,
    # and separately for the capped count.
    limit = max(datasette.setting("max_returned_rows"), int(config["facet_sample"])) + 1
    count_limit = int(config["count_cap"]) + 1
    pk = escape_sqlite(metadata.get("fts_pk") or "rowid")
    arguments = FilterArguments([], {}, [], {"supports_search": True, "search": request.args.get("_search", "")})
    for i, (column, text, target, query) in enumerate(searches):
        name = f"lens_search_{i}"
        subquery = f"select rowid from {FTS_TABLE} where {target} match :{name}"
        arguments.params[name] = query
        if after is None:
            arguments.where_clauses.append(f"{pk} in ({subquery})")
        else:
            subquery += f" and rowid > :{name}_after order by rowid"
            arguments.where_clauses.append(f"{pk} in ({subquery} limit :{name}_limit)")
            arguments.params.update(
                {f"{name}_after": after, f"{name}_limit": limit, f"{name}_count_limit": count_limit}
            )
            # The search is the only filter, so its ids alone count the rows.
            arguments.extra_context[MATCHING_IDS_KEY] = f"{subquery} limit :{name}_count_limit"
        where = f'column "{column}" ' if column else ""
        arguments.human_descriptions.append(f'search {where}matches "{text}"')
        arguments.extra_context["search"] = text
    return arguments


async def parsed_searches(request, db, mode: str) -> list[tuple[str | None, str, str, str]]:
    """Return (column, text, MATCH target, FTS5 query) for each non-blank search argument."""
    searches = []
    for column, text in search_arguments(request):
        target = await match_target(db, column)
        query = await fts_query(db, target, text, mode)
        if query is not None:
            searches.append((column, text, target, query))
    return searches


def has_row_filters(request) -> bool:
    """True when ``request`` filters rows by anything but a search: columns, _where, _through."""
    return any(
        not key.startswith("_") or "__" in key or key in ROW_FILTER_ARGS for key in request.args
    )


def prefix_start(request, metadata: dict) -> int | None:
    """Return the id after which the page starts when only a prefix of the matches is needed.

    ``id IN (all matches)`` makes SQLite collect every match before the first row is
    returned: over a million ids for a common word at 12 million rows. When the search
    is the only filter and rows come in id order, a page needs only the matches after
    the ``_next`` cursor: at most max_returned_rows + 1 of them, or facet_sample + 1
    for the domain facet, so the subquery can stop there. The capped count reads
    count_cap + 1 ids of its own. Returns None when that does not hold.
    """
    sort = request.args.get("_sort") or metadata.get("sort")
    if has_row_filters(request) or request.args.get("_sort_desc") or metadata.get("sort_desc"):
        return None
    if sort not in (None, "id"):
        return None
    cursor = request.args.get("_next") or "0"
    # Anything but a 64-bit row id is left to Datasette's own handling of _next.
    if not (cursor.isascii() and cursor.isdigit()) or int(cursor) >= 2**63:
        return None
    return int(cursor)


async def match_target(db, column: str | None) -> str:
    """Return the left side of MATCH: the FTS table, or one of its columns."""
    if column is None:
        return escape_sqlite(FTS_TABLE)
    # table_columns() also lists FTS5's hidden columns, named after the table and "rank".
    columns = [name for name in await db.table_columns(FTS_TABLE) if name not in (FTS_TABLE, "rank")]
    if column not in columns:
        raise BadRequest(
            f"Cannot search column {column!r}: searchable columns are {', '.join(columns)} "
            f"(use _search_{columns[0]}= or plain _search=)"
        )
    return escape_sqlite(column)


async def fts_query(db, target: str, text: str, mode: str) -> str | None:
    """Return the FTS5 query for ``text``, or None when it is blank (no filter)."""
    if len(text) > MAX_SEARCH_CHARS:
        raise BadRequest(
            f"The search text is {len(text):,} characters long; the limit is "
            f"{MAX_SEARCH_CHARS:,}. Search for fewer words."
        )
    # FTS5 reads its query as a C string: text after a NUL byte would vanish and leave
    # an unterminated phrase behind.
    text = text.replace("\x00", " ")
    if mode != "raw":
        return literal_query(text)
    if not text.strip():
        return None
    query = fts_text(text)
    await check_raw_query(db, target, query, text)
    return query


async def check_raw_query(db, target: str, query: str, text: str) -> None:
    """Raise BadRequest quoting SQLite's error if ``query`` is not valid FTS5 syntax."""
    sql = f"select 1 from {escape_sqlite(FTS_TABLE)} where {target} match :query limit 1"
    try:
        await db.execute(sql, {"query": query}, log_sql_errors=False)
    except sqlite3.OperationalError as error:
        log.info("rejected raw search %r: %s", text, error)
        raise BadRequest(
            f"The search {text!r} is not valid FTS5 query syntax ({error}). Fix the "
            "query, or drop _searchmode=raw to search for the text literally."
        ) from error
