"""Thumbnails and readable scores on the images table and row pages.

Each ``url`` cell shows the image itself, loaded lazily from its original address
and linked to it; LAION Lens stores no images. A row whose ``punsafe`` is above
``punsafe_threshold`` shows no thumbnail unless the page was requested with
``_unsafe=1`` (or true, yes, on), which the page offers as a "show unsafe thumbnails" link. Scores are
shown with three decimals; the JSON keeps the stored values.
"""

import contextvars
from urllib.parse import parse_qsl, urlsplit

from datasette import hookimpl
from datasette.utils import path_with_added_args, path_with_removed_args
from markupsafe import Markup, escape

from laionlens.config import lens_config
from plugins._pages import is_true

TABLE = "images"
SCORE_COLUMNS = ("similarity", "punsafe", "pwatermark", "aesthetic")
UNSAFE_ARG = "_unsafe"
THUMBNAIL_PX = 160

# render_cell gets no request in Datasette 0.65, so a wrapper records whether the
# request being served asked for unsafe thumbnails. Each request has its own context.
_show_unsafe = contextvars.ContextVar("laionlens_show_unsafe", default=False)


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def remember_unsafe_choice(scope, receive, send):
            query = scope.get("query_string", b"").decode("latin-1")
            token = _show_unsafe.set(is_true(dict(parse_qsl(query)).get(UNSAFE_ARG)))
            try:
                await app(scope, receive, send)
            finally:
                _show_unsafe.reset(token)

        return remember_unsafe_choice

    return wrap


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    if table != TABLE:
        return None
    if column in SCORE_COLUMNS and isinstance(value, float):
        return f"{value:.3f}"
    if column == "url" and isinstance(value, str):
        return url_cell(row, value, database, datasette)
    return None


@hookimpl
def extra_template_vars(view_name, table, request, datasette):
    if view_name not in ("table", "row") or table != TABLE or request is None:
        return {}
    unsafe_shown = is_true(request.args.get(UNSAFE_ARG))
    if unsafe_shown:
        toggle_url = path_with_removed_args(request, {UNSAFE_ARG})
    else:
        toggle_url = path_with_added_args(request, {UNSAFE_ARG: "1"})
    threshold = lens_config(datasette)["punsafe_threshold"]
    return {"lens_unsafe": {"shown": unsafe_shown, "threshold": threshold, "toggle_url": toggle_url}}


async def url_cell(row, url: str, database: str, datasette) -> Markup:
    """Return the link to ``url`` with its thumbnail, or with a note saying why none is shown."""
    link = Markup('<a href="{0}">{0}</a>').format(url) if is_web_url(url) else escape(url)
    if not is_web_url(url):
        return link
    punsafe = await row_punsafe(row, database, datasette)
    threshold = lens_config(datasette)["punsafe_threshold"]
    if punsafe is not None and punsafe > threshold and not _show_unsafe.get():
        note = Markup(
            '<span class="lens-unsafe">Thumbnail hidden: punsafe {:.3f} is above {}.</span>'
        ).format(punsafe, threshold)
        return Markup("{}<br>{}").format(note, link)
    thumbnail = Markup(
        '<a href="{0}" class="lens-thumb"><img src="{0}" loading="lazy" alt="" '
        'referrerpolicy="no-referrer" style="max-width: {1}px; max-height: {1}px"></a>'
    ).format(url, THUMBNAIL_PX)
    return Markup("{}<br>{}").format(thumbnail, link)


def is_web_url(url: str) -> bool:
    """True for http(s) URLs: anything else (javascript:, data:) is never put in href or src."""
    try:
        return urlsplit(url.strip()).scheme.lower() in ("http", "https")
    except ValueError:
        return False


async def row_punsafe(row, database: str, datasette) -> float | None:
    """Return the row's punsafe, looking it up when ``_col`` left it out of the page."""
    keys = row.keys()
    if "punsafe" in keys:
        return row["punsafe"]
    if "id" not in keys:
        return 1.0  # unknown, so treated as unsafe rather than shown
    db = datasette.get_database(database)
    result = await db.execute(f"select punsafe from {TABLE} where id = ?", [row["id"]])
    first = result.first()
    return first[0] if first else None
