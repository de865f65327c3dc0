"""Row pages of removed rows return 410 Gone, with the date and reason of the removal.

``laionlens remove`` deletes the row itself, so Datasette alone would return 404, the
same as for an id that never existed. The ids of removed rows are kept in
``removed_rows``; a request for ``/{database}/images/{id}`` (HTML, ``.json`` or
``?_format=json``) whose id is listed there and absent from ``images`` gets a 410.
No other row data is kept, so the page can show no thumbnail or URL of the row.
"""

import logging
import re
from urllib.parse import parse_qsl

from datasette import hookimpl
from datasette.utils import tilde_decode
from datasette.utils.asgi import Response

log = logging.getLogger("laionlens.removed")

ROW_PATH = re.compile(r"^/(?P<database>[^/]+)/images/(?P<id>-?\d+)(?P<json>\.json)?$")

REMOVED_ROW_SQL = """
SELECT reason, removed_at FROM removed_rows
WHERE image_id = :id AND NOT EXISTS (SELECT 1 FROM images WHERE id = :id)
"""


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def answer_gone_for_removed_rows(scope, receive, send):
            target = row_request(datasette, scope) if scope["type"] == "http" else None
            removal = await removed_row(datasette, *target[:2]) if target else None
            if removal is None:
                return await app(scope, receive, send)
            response = await gone_response(datasette, target, removal)
            await response.asgi_send(send)

        return answer_gone_for_removed_rows

    return wrap


def row_request(datasette, scope) -> tuple[str, int, bool] | None:
    """Return (database, id, wants_json) when ``scope`` requests a row page of images."""
    path = scope.get("path", "")
    base_url = datasette.setting("base_url")
    if base_url != "/" and path.startswith(base_url):
        # Datasette strips its base_url the same way before routing.
        path = "/" + path[len(base_url):]
    match = ROW_PATH.match(path)
    if match is None:
        return None
    database = tilde_decode(match["database"])
    if database not in datasette.databases:
        return None
    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
    wants_json = bool(match["json"]) or query.get("_format") == "json"
    image_id = int(match["id"])
    if not -(2**63) <= image_id < 2**63:
        # No SQLite rowid is this large, so Datasette returns 404 for it.
        return None
    return database, image_id, wants_json


async def removed_row(datasette, database: str, image_id: int) -> dict | None:
    """Return the reason and date of the removal of ``image_id``, or None if it was not removed."""
    db = datasette.get_database(database)
    if not await db.table_exists("removed_rows"):
        return None
    result = await db.execute(REMOVED_ROW_SQL, {"id": image_id})
    row = result.first()
    return None if row is None else {"reason": row["reason"], "removed_at": row["removed_at"]}


async def gone_response(datasette, target, removal: dict) -> Response:
    database, image_id, wants_json = target
    day = (removal["removed_at"] or "")[:10]
    message = f"Row {image_id} was removed on {day}. Reason: {removal['reason']}"
    log.info("returned 410 for removed row %s of %s", image_id, database)
    if wants_json:
        body = {"ok": False, "status": 410, "title": "Gone", "error": message,
                "image_id": image_id, "reason": removal["reason"], "removed_at": removal["removed_at"]}
        return Response.json(body, status=410)
    # Plugin wrappers run outside Datasette's first-request startup, so a removed row
    # can be the first page served; invoke_startup() returns at once after the first call.
    await datasette.invoke_startup()
    html = await datasette.render_template(
        "error.html", {"status": 410, "title": "Gone", "error": message}
    )
    return Response.html(html, status=410)
