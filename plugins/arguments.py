"""Reject images-table arguments for which Datasette 0.65 would return a 500.

Datasette builds its column filters (``aesthetic__gt=...``) before any plugin hook
runs, so the check sits in an ASGI wrapper in front of the table view.
"""

import json
import logging

from datasette import hookimpl
from datasette.utils.asgi import BadRequest, Request
from markupsafe import escape

from plugins.counts import counted_request
from plugins.search import check_argument_values

log = logging.getLogger("laionlens.arguments")


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def with_checked_arguments(scope, receive, send):
            target = counted_request(datasette, scope)
            if target is not None:
                try:
                    check_argument_values(Request(scope, receive))
                except BadRequest as error:
                    log.info("400 for %s: %s", scope.get("path"), error)
                    return await send_bad_request(send, str(error), json_wanted=target[1] != "html")
            return await app(scope, receive, send)

        return with_checked_arguments

    return wrap


async def send_bad_request(send, message: str, json_wanted: bool) -> None:
    if json_wanted:
        body = json.dumps({"ok": False, "error": message, "status": 400, "title": "Invalid argument"})
        content_type = b"application/json; charset=utf-8"
    else:
        body = f"<!DOCTYPE html><title>Error 400</title><h1>Error 400</h1><p>{escape(message)}</p>"
        content_type = b"text/html; charset=utf-8"
    await send({"type": "http.response.start", "status": 400,
                "headers": [(b"content-type", content_type)]})
    await send({"type": "http.response.body", "body": body.encode("utf-8")})
