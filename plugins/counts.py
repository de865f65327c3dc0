"""Result counts of the images table that do not wait on a full ``count(*)``.

Datasette counts every filtered table page with ``select count(*) ... where ...``, which
reads every match: seconds for a common word at 12 million rows. For the ``images``
table this plugin adds ``_nocount=lens`` to the request, and ``_nosuggest=lens`` since
each facet suggestion counts the result too. Instead it counts at most
``count_cap + 1`` matches under ``count_time_limit_ms``, so the count is exact up to
``count_cap`` and "more than count_cap" beyond it.

The count runs next to the page query. The HTML page shows it (``_lens_count.html``),
and JSON carries it as ``lens_count`` plus Datasette's ``filtered_table_rows_count``
when exact. A request with its own ``_nocount`` (any value but ``lens``), an
array/object ``_shape`` or the CSV format gets no count at all.
"""

import asyncio
import json
import logging
import sqlite3
from urllib.parse import parse_qsl, urlencode

from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.filters import Filters
from datasette.plugins import pm
from datasette.utils import await_me_maybe, escape_sqlite, tilde_decode
from datasette.utils.asgi import Request
from datasette.views.base import ureg

from laionlens.config import lens_config
from plugins.search import MATCHING_IDS_KEY

log = logging.getLogger("laionlens.counts")

TABLE = "images"
SCOPE_KEY = "laionlens.count"
# The value "lens" marks arguments this plugin added, so that following a next_url
# (which carries them) still gets a count, while a user's own _nocount=1 turns it off.
MARK = "lens"
ADDED_ARGS = (("_nocount", MARK), ("_nosuggest", MARK))


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def with_capped_count(scope, receive, send):
            target = counted_request(datasette, scope)
            if target is None:
                return await app(scope, receive, send)
            database, kind = target
            if kind == "csv":
                # A CSV export pages through every match and would count them all again
                # on each page, so it gets no count at all.
                scope = dict(scope, query_string=with_added_args(scope))
                return await app(scope, receive, send)
            # The count covers every page, so it ignores the _next cursor.
            count_scope = dict(scope, query_string=without_arg(scope, "_next"))
            task = asyncio.create_task(capped_count(datasette, Request(count_scope, receive), database))
            scope = dict(scope, query_string=with_added_args(scope), **{SCOPE_KEY: task})
            try:
                await app(scope, receive, json_sender(send, task) if kind == "json" else send)
            finally:
                task.cancel()

        return with_capped_count

    return wrap


@hookimpl
def extra_template_vars(request, view_name):
    task = request.scope.get(SCOPE_KEY) if request is not None else None
    if view_name != "table" or task is None:
        return {}

    async def inner():
        return {"lens_count": await task}

    return inner


def counted_request(datasette, scope) -> tuple[str, str] | None:
    """Return (database, "html", "json" or "csv") for a GET of the images table, else None."""
    if scope.get("type") != "http" or scope.get("method") != "GET":
        return None
    parts = scope.get("path", "").split("/")
    if len(parts) != 3 or parts[2] not in (TABLE, f"{TABLE}.json", f"{TABLE}.csv"):
        return None
    database = tilde_decode(parts[1])
    if database not in datasette.databases:
        return None
    args = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
    if args.get("_nocount", MARK) != MARK or args.get("_shape") in ("array", "object"):
        return None
    kind = parts[2].rpartition(".")[2] if "." in parts[2] else args.get("_format", "html")
    return database, kind if kind in ("json", "csv") else "html"


def without_arg(scope, name: str) -> bytes:
    pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    return urlencode([(key, value) for key, value in pairs if key != name]).encode("latin-1")


def with_added_args(scope) -> bytes:
    query_string = scope.get("query_string", b"")
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    missing = [(key, value) for key, value in ADDED_ARGS if key not in dict(pairs)]
    joiner = b"&" if query_string and missing else b""
    return query_string + joiner + urlencode(missing).encode("ascii")


async def capped_count(datasette, request, database: str) -> dict:
    """Count the rows the request selects, reading at most count_cap + 1 of them."""
    config = lens_config(datasette)
    cap = int(config["count_cap"])
    result = {"count": None, "exact": False, "cap": cap, "timed_out": False}
    try:
        where, params, extra = await filtered_where(datasette, request, database, TABLE)
        sql = f"select count(*) from (select 1 from {escape_sqlite(TABLE)} {where} limit {cap + 1})"
        if MATCHING_IDS_KEY in extra:
            # Counting the caption index alone skips a row lookup per match. NOTE: this
            # trusts that every images_fts row has its images row (laionlens check).
            sql = f"select count(*) from ({extra[MATCHING_IDS_KEY]})"
        rows = await datasette.get_database(database).execute(
            sql, params, custom_time_limit=int(config["count_time_limit_ms"])
        )
    except QueryInterrupted:
        return dict(result, timed_out=True)
    except sqlite3.OperationalError as error:
        # The time limit's interrupt can land while SQLite opens the FTS5 table, and
        # SQLite then reports "vtable constructor failed" instead of "interrupted".
        if "vtable constructor failed" in str(error):
            return dict(result, timed_out=True)
        log.debug("no capped count for %s: %s", request.path, error)
        return result
    except Exception as error:  # noqa: BLE001 - the page itself reports bad input
        log.debug("no capped count for %s: %s", request.path, error)
        return result
    count = rows.first()[0]
    return dict(result, count=min(count, cap), exact=count <= cap)


async def filtered_where(datasette, request, database: str, table: str) -> tuple[str, dict, dict]:
    """Return the WHERE clause, parameters and filters' extra context that Datasette's
    table view builds for ``request``.

    Mirrors datasette/views/table.py (0.65): column filters from the query string,
    then every filters_from_request hook (``_where``, ``_through``, the search).
    """
    pairs = [
        (key, value)
        for key in request.args
        if not (key.startswith("_") and "__" not in key)
        for value in request.args.getlist(key)
    ]
    units = datasette.table_metadata(database, table).get("units", {})
    clauses, params = Filters(sorted(pairs), units, ureg).build_where_clauses(table)
    extra = {}
    for hook in pm.hook.filters_from_request(
        request=request, table=table, database=database, datasette=datasette
    ):
        arguments = await await_me_maybe(hook)
        if arguments:
            clauses.extend(arguments.where_clauses)
            params.update(arguments.params)
            extra.update(arguments.extra_context)
    return ("where " + " and ".join(clauses)) if clauses else "", params, extra


def json_sender(send, task):
    """Wrap ``send`` so that a JSON table response gains the capped count."""
    start = {}
    chunks = []

    async def sender(message):
        if message["type"] == "http.response.start":
            start.update(message)  # sent once the body, and so its length, is known
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body"):
            return
        body = await body_with_count(start, b"".join(chunks), task)
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode("ascii")))
        await send(dict(start, headers=headers))
        await send({"type": "http.response.body", "body": body})

    return sender


async def body_with_count(start: dict, body: bytes, task) -> bytes:
    content_type = dict(start.get("headers", [])).get(b"content-type", b"")
    if start.get("status") != 200 or b"json" not in content_type:
        return body
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if not isinstance(data, dict) or "filtered_table_rows_count" not in data:
        return body
    count = await task
    data["lens_count"] = count
    if count["exact"]:
        data["filtered_table_rows_count"] = count["count"]
    return json.dumps(data).encode("utf-8")
