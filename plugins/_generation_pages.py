"""Pieces shared by the generate, compare and generation pages (not a plugin itself):
content negotiation, request bodies with a size limit, the concurrency cap, and
storing a comparison in the ``generations`` table.
"""

import json
import logging
import math
import weakref
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qsl

from datasette.utils.asgi import BadRequest, Response

from laionlens.comparison import compare
from laionlens.config import lens_config
from laionlens.provenance import GenerationRecord, insert_generation, sha256_hex
from plugins._pages import read_body

log = logging.getLogger("laionlens.generate")

STYLESHEET = "/-/static-plugins/plugins/pages.css"
# Room for the multipart boundaries and small text fields around an uploaded image.
FORM_OVERHEAD_BYTES = 64 * 1024


class GenerationSlots:
    """A non-blocking cap on concurrent generations for one Datasette instance."""

    def __init__(self, limit: int):
        self.limit = max(1, int(limit))
        self.active = 0
        self.last_duration_s = None

    def try_acquire(self) -> bool:
        # No await between the test and the increment, so this is atomic on the loop.
        if self.active >= self.limit:
            return False
        self.active += 1
        return True

    def release(self, duration_s: float) -> None:
        self.active -= 1
        self.last_duration_s = duration_s

    def retry_after(self) -> int:
        """Return the seconds a rejected client should wait: about one recent generation."""
        return max(1, math.ceil(self.last_duration_s or 5))


_SLOTS = weakref.WeakKeyDictionary()


def generation_slots(datasette, limit: int) -> GenerationSlots:
    """Return the GenerationSlots of ``datasette``, created on first use."""
    slots = _SLOTS.get(datasette)
    if slots is None:
        slots = _SLOTS[datasette] = GenerationSlots(limit)
    return slots


def wants_json(request) -> bool:
    """True for ``.json`` URLs, ``?_format=json`` and clients that accept JSON but not HTML."""
    if request.url_vars.get("format") == "json" or request.args.get("_format") == "json":
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def content_type(request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def multipart_fields(request, body: bytes) -> dict:
    """Return {name: (value, filename)} of a multipart/form-data body; values are bytes."""
    header = request.headers.get("content-type", "").encode("latin-1")
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + header + b"\r\n\r\n" + body)
    if not message.is_multipart():
        raise BadRequest("The multipart/form-data body could not be parsed; send it with a boundary")
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[name] = (part.get_payload(decode=True) or b"", part.get_filename())
    return fields


async def form_values(request, limit: int) -> dict:
    """Return the fields of a JSON, urlencoded or multipart POST body as text."""
    body = await read_body(request, limit)
    kind = content_type(request)
    if kind == "application/json":
        try:
            values = json.loads(body or b"null")
        except ValueError as error:
            raise BadRequest(f"The request body is not valid JSON: {error}") from None
        if not isinstance(values, dict):
            raise BadRequest("The JSON request body must be an object, e.g. {\"prompt\": \"a fox\"}")
        return values
    if kind == "multipart/form-data":
        fields = multipart_fields(request, body)
        return {name: value.decode("utf-8", "replace") for name, (value, _) in fields.items()}
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def k_value(values: dict, config: dict) -> int:
    """Return the number of neighbours requested (``k``), within 1..k_max."""
    raw, k_max = values.get("k"), int(config["k_max"])
    if raw is None or raw == "":
        return int(config["k_default"])
    try:
        k = int(raw)
    except (TypeError, ValueError):
        raise BadRequest(f"k={raw!r} is not a whole number; give one from 1 to {k_max}") from None
    if not 1 <= k <= k_max:
        raise BadRequest(f"k={raw!r} is out of range; give a whole number from 1 to {k_max}")
    return k


async def compare_and_store(datasette, db, config: dict, image, record: GenerationRecord, k: int,
                            extra: dict | None = None) -> dict:
    """Compare ``image`` with the training set, store the record (``extra`` joins its
    result) and return the page data."""
    record.result = dict(await compare(datasette, db, config, image, record.prompt, k), **(extra or {}))
    record_id = None
    if db.is_mutable:
        record_id = await db.execute_write_fn(lambda conn: insert_generation(conn, record), block=True)
    else:
        log.warning("database %s is read-only: %s comparison not stored", db.name, record.source)
    return page_data(datasette, record_id, vars(record))


def page_data(datasette, record_id, row: dict) -> dict:
    """Return what the generation page and its JSON show for one stored row."""
    base = datasette.urls.path(f"/-/generations/{record_id}") if record_id else None
    return {
        "id": record_id,
        "permalink": base,
        "image_url": f"{base}.png" if base else None,
        "source": row["source"],
        "backend": row["backend"],
        "model": row.get("model"),
        "prompt": row.get("prompt"),
        "negative_prompt": row.get("negative_prompt"),
        "seed": row.get("seed"),
        "params": row["params"],
        "image": {"sha256": row["image_sha256"], "width": row["width"], "height": row["height"]},
        "created_at": row.get("created_at"),
        "duration_ms": row.get("duration_ms"),
        **row["result"],
    }


def new_record(source: str, backend: str, data: bytes, png: bytes, image, params: dict) -> GenerationRecord:
    return GenerationRecord(
        source=source, backend=backend, image_png=png, image_sha256=sha256_hex(data),
        width=image.width, height=image.height, params=params, result={},
    )


async def error_response(datasette, request, status: int, message: str, template: str,
                         context: dict, headers: dict | None = None) -> Response:
    """Log an error and return it as JSON, or as ``template`` showing the form again with ``message``."""
    log.info("%s %s failed with %d: %s", request.method, request.path, status, message)
    if wants_json(request):
        response = Response.json({"ok": False, "status": status, "error": message}, status=status)
    else:
        page = dict(context, error=message, stylesheet=STYLESHEET)
        html = await datasette.render_template(template, page, request=request)
        response = Response.html(html, status=status)
    response.headers.update(headers or {})
    return response


async def result_response(datasette, request, data: dict, database: str) -> Response:
    if wants_json(request):
        return Response.json(dict(data, ok=True), default=str)
    context = dict(
        data, stylesheet=STYLESHEET, database=database,
        request_json=json.dumps(data["params"], indent=2),
        unsafe_threshold=lens_config(datasette)["punsafe_threshold"],
    )
    return Response.html(await datasette.render_template("generation.html", context, request=request))
