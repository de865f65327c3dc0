"""Pieces shared by the name report, keyword and grid pages (not a plugin itself).

Request parameters are checked here and turned into ``BadRequest`` (HTTP 400) with a
message that quotes the bad value; image rows become the items the image grid shows.
"""

import functools
import logging
import math
from urllib.parse import urlencode

from datasette.utils.asgi import BadRequest, NotFound, Response

from laionlens.config import lens_config

log = logging.getLogger("laionlens.pages")

STYLESHEET = "/-/static-plugins/plugins/pages.css"
SCRIPT = "/-/static-plugins/plugins/grid.js"


async def images_database(datasette):
    """Return the Database holding the images table (``database`` in the config, or the first)."""
    name = lens_config(datasette)["database"]
    if name:
        if name not in datasette.databases:
            raise NotFound(f"Configured database {name!r} is not attached")
        return datasette.databases[name]
    for database in datasette.databases.values():
        if database.name != "_internal" and await database.table_exists("images"):
            return database
    raise NotFound("No attached database has an images table. Build one with: laionlens ingest SOURCE --db FILE")


def wants_json(request) -> bool:
    """True for ``/-/page.json`` and for ``?_format=json``."""
    return bool(request.url_vars.get("format")) or request.args.get("_format") == "json"


def text_param(request, name: str, required: bool = True) -> str | None:
    """Return the stripped text of parameter ``name``, raising a 400 if a required one is missing."""
    value = (request.args.get(name) or "").strip()
    if not value and required:
        raise BadRequest(f"Parameter {name!r} is required, e.g. ?{name}=cat")
    return value or None


def float_param(request, name: str, low: float, high: float) -> float | None:
    """Return parameter ``name`` as a number within [low, high], or None when absent."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(f"{name}={raw!r} is not a number. Give one from {low} to {high}")
    if not (math.isfinite(value) and low <= value <= high):
        raise BadRequest(f"{name}={raw!r} is out of range. Give a number from {low} to {high}")
    return value


def int_param(request, name: str, default: int | None, low: int, high: int) -> int | None:
    """Return parameter ``name`` as an integer within [low, high], or ``default`` when absent."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name}={raw!r} is not a whole number. Give one from {low} to {high}")
    if not low <= value <= high:
        raise BadRequest(f"{name}={raw!r} is out of range. Give a whole number from {low} to {high}")
    return value


TRUE_VALUES = frozenset({"1", "true", "yes", "on"})


def is_true(value: str | None) -> bool:
    """Tell whether a request parameter's value means yes: 1, true, yes or on, in any case."""
    return (value or "").strip().lower() in TRUE_VALUES


def flag_param(request, name: str) -> bool:
    """True when parameter ``name`` is 1, true, yes or on."""
    return is_true(request.args.get(name))


def page_url(request, **changes) -> str:
    """Return the request's URL with parameters changed (a None value removes one)."""
    args = {key: request.args.get(key) for key in request.args if key not in changes}
    args.update({key: value for key, value in changes.items() if value is not None})
    return request.path + "?" + urlencode(args)


def image_item(datasette, database_name: str, row: dict, unsafe_threshold: float,
               show_unsafe: bool) -> dict:
    """Return what a grid tile needs for one image row.

    The thumbnail is left out (``hidden``) when the row's punsafe is above the
    threshold and the viewer did not ask for unsafe images.
    """
    punsafe = row.get("punsafe")
    hidden = punsafe is not None and punsafe > unsafe_threshold and not show_unsafe
    return {
        "id": row["id"],
        "url": row["url"],
        "caption": row.get("caption"),
        "aesthetic": row.get("aesthetic"),
        "punsafe": punsafe,
        "pwatermark": row.get("pwatermark"),
        "domain": row.get("domain"),
        "similarity": row.get("similarity"),
        "row_url": datasette.urls.row(database_name, "images", str(row["id"])),
        "thumbnail": None if hidden else row["url"],
        "hidden": hidden,
    }


async def form_response(datasette, request, template: str, param: str):
    """Respond to a page opened without its main parameter: the bare form in HTML, a 400 in JSON."""
    if wants_json(request):
        raise BadRequest(f"Parameter {param!r} is required, e.g. ?{param}=cat")
    context = {"stylesheet": STYLESHEET, "script": SCRIPT, "empty": True}
    return Response.html(await datasette.render_template(template, context, request=request))


async def page_response(datasette, request, template: str, data: dict, extra: dict | None = None):
    """Render ``data`` as JSON or through ``template`` (with ``extra`` for the HTML only)."""
    if wants_json(request):
        return Response.json(dict(data, ok=True), default=str)
    context = dict(data, stylesheet=STYLESHEET, script=SCRIPT, **(extra or {}))
    return Response.html(await datasette.render_template(template, context, request=request))


def allow_methods(*methods: str):
    """Wrap a route view so that other HTTP methods get 405 with an Allow header.

    Datasette calls a plugin route for every method, so a view that ignores the method
    would handle PUT or DELETE as if it were GET. HEAD is allowed wherever GET is.
    """
    allowed = sorted({*methods, "HEAD"} if "GET" in methods else set(methods))

    def decorate(view):
        @functools.wraps(view)
        async def checked(datasette, request):
            if request.method not in allowed:
                log.info("rejected %s %s with 405: allowed are %s", request.method, request.path, allowed)
                return Response.text(
                    f"Method {request.method} is not allowed on {request.path}. Use {', '.join(allowed)}.",
                    status=405, headers={"Allow": ", ".join(allowed)})
            return await view(datasette, request)

        return checked

    return decorate


async def read_body(request, limit: int) -> bytes:
    """Read the request body, raising BadRequest (400) as soon as it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise BadRequest(f"Request body is {int(declared)} bytes; the limit is {limit} bytes")
    body = bytearray()
    more = True
    while more:
        message = await request.receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
        if len(body) > limit:
            raise BadRequest(f"Request body is over the limit of {limit} bytes; send a smaller image")
    return bytes(body)
