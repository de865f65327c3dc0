"""Similarity search at ``/-/similar`` (HTML) and ``/-/similar.json``.

Four kinds of query, each combined with the score, domain and full-text filters:

- ``?q=TEXT``: images whose CLIP embedding is closest to the text's;
- ``?row=ID``: rows closest to a row, from its stored vector (no model needed);
- ``?url=URL``: the server fetches the image (never from private addresses unless
  ``allow_private_urls`` is set) and searches with it;
- POST ``multipart/form-data`` with an ``image`` file: the uploaded image.

The vector index is loaded and checked against the database and the configured
model when Datasette starts, so a mismatch stops the server instead of giving
wrong answers. torch is only imported by queries that need the model.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import logging

from datasette import hookimpl
from datasette.utils.asgi import BadRequest, NotFound, Response

from laionlens.config import lens_config
from laionlens.neighbours import find_neighbours, images_database, index_from_datasette
from laionlens.vectors import VectorDimensionError, VectorIndexError
from plugins._pages import allow_methods, flag_param, float_param, read_body

log = logging.getLogger("laionlens.similar")

PATHS = ("/-/similar", "/-/similar.json")
# Score filters: parameter, lowest, highest.
SCORE_FILTERS = (("punsafe_max", 0.0, 1.0), ("aesthetic_min", 0.0, 10.0), ("pwatermark_max", 0.0, 1.0))
# Room for the multipart boundaries and headers around the image itself.
MULTIPART_OVERHEAD = 64 * 1024


class ServiceUnavailable(Exception):
    """Similarity search cannot run with this configuration (no index, no model weights)."""


@hookimpl
def startup(datasette):
    async def load_vector_index():
        # Raising here stops Datasette from starting: a wrong index must not serve.
        if lens_config(datasette)["vector_index"]:
            index = await asyncio.to_thread(index_from_datasette, datasette)
            log.info("similarity search ready: %d vectors", index.count)

    return load_vector_index


@hookimpl
def register_routes():
    return [(r"^/-/similar(?P<format>\.json)?$", allow_methods("GET", "POST")(similar_view))]


@hookimpl
def skip_csrf(scope):
    # The upload form only searches; it changes nothing, so it needs no CSRF token.
    return scope.get("path") in PATHS


def wants_json(request) -> bool:
    return bool(request.url_vars.get("format")) or request.args.get("_format") == "json"


def read_filters(request) -> dict:
    filters = {name: float_param(request, name, low, high) for name, low, high in SCORE_FILTERS}
    filters["domain"] = (request.args.get("domain") or "").strip() or None
    filters["search"] = (request.args.get("_search") or "").strip() or None
    return {name: value for name, value in filters.items() if value is not None}


def read_k(request, config: dict) -> int:
    raw = (request.args.get("k") or request.args.get("_size") or "").strip()
    if not raw:
        return config["k_default"]
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise BadRequest(f"k={raw!r} is not a positive whole number; give one from 1 to {config['k_max']}")
    return min(int(raw), config["k_max"])


def parse_multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    """Return the file fields of a multipart/form-data body by field name."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise BadRequest("The upload is not multipart/form-data; send the image as the 'image' field")
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[name] = part.get_payload(decode=True) or b""
    return fields


async def read_upload(request, max_bytes: int) -> bytes:
    """Read the ``image`` field of a multipart POST, checking the size before parsing."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise BadRequest("Upload the image as multipart/form-data with the field name 'image'")
    limit = max_bytes + MULTIPART_OVERHEAD
    try:
        body = await read_body(request, limit)
    except BadRequest:
        # The body limit includes room for the multipart framing; quote the image limit.
        raise BadRequest(f"The upload is over the limit of {max_bytes:,} bytes for an image") from None
    image = parse_multipart(content_type, body).get("image")
    if not image:
        raise BadRequest("The upload has no file in the 'image' field")
    if len(image) > max_bytes:
        raise BadRequest(f"The image is {len(image):,} bytes; images may be at most {max_bytes:,} bytes")
    return image


async def fetch_url(url: str, config: dict) -> bytes:
    from ingest.embed_fetch import FetchError, fetch_image_bytes, new_client

    try:
        async with new_client(config["fetch_timeout_s"]) as client:
            fetched = await fetch_image_bytes(client, url, max_bytes=config["max_image_bytes"],
                                              allow_private=config["allow_private_urls"])
    except FetchError as error:
        log.warning("image URL refused or failed: %s", error)
        raise BadRequest(f"Could not fetch the image URL: {error}")
    return fetched.data


async def encode(config: dict, kind: str, payload):
    """Embed text or image bytes with the configured model, in a worker thread."""
    from laionlens.clip import ClipError, decode_image, encoder_from_config

    def work():
        encoder = encoder_from_config(config)
        if kind == "text":
            return encoder.encode_texts([payload])
        return encoder.encode_images([decode_image(payload, "the image")])

    try:
        return await asyncio.to_thread(work)
    except ValueError as error:  # UndecodableImage
        raise BadRequest(str(error))
    except ClipError as error:
        log.error("CLIP model unavailable: %s", error)
        raise ServiceUnavailable(str(error))


async def query_vector(datasette, request, config: dict):
    """Return (mode, description, vector) for the request, or (None, None, None)."""
    if request.method == "POST":
        image = await read_upload(request, config["max_image_bytes"])
        return "upload", f"uploaded image ({len(image):,} bytes)", await encode(config, "image", image)
    if request.args.get("url"):
        url = request.args["url"].strip()
        return "url", url, await encode(config, "image", await fetch_url(url, config))
    if request.args.get("row"):
        return "row", request.args["row"], await row_vector(datasette, request.args["row"].strip())
    if (request.args.get("q") or "").strip():
        return "text", request.args["q"].strip(), await encode(config, "text", request.args["q"].strip())
    return None, None, None


async def row_vector(datasette, raw: str):
    if not (raw.lstrip("-").isascii() and raw.lstrip("-").isdigit()):
        raise BadRequest(f"row={raw!r} is not a row id; give the id of an images row, e.g. row=42")
    index = await asyncio.to_thread(index_from_datasette, datasette)
    vector = index.vector_of(int(raw))
    if vector is None:
        raise NotFound(f"Row {raw} has no vector in the index; it may be removed or not embedded yet")
    return vector


def present(rows: list[dict], config: dict, show_unsafe: bool, database: str) -> list[dict]:
    threshold = config["punsafe_threshold"]
    for row in rows:
        hidden = row["punsafe"] is not None and row["punsafe"] > threshold and not show_unsafe
        row["thumbnail"] = None if hidden else row["url"]
        row["row_url"] = f"/{database}/images/{row['id']}"
    return rows


async def search(datasette, request, config: dict) -> dict:
    filters, k = read_filters(request), read_k(request, config)
    mode, description, vector = await query_vector(datasette, request, config)
    data = {"mode": mode, "query": description, "k": k, "filters": filters, "rows": []}
    if mode is None:
        return data
    database = images_database(datasette)
    # A row is its own nearest neighbour; ask for one more and leave it out.
    wanted = k + 1 if mode == "row" else k
    try:
        rows = await find_neighbours(datasette, vector, wanted, filters, database=database)
    except VectorDimensionError as error:
        raise BadRequest(f"{error}. The configured model does not match the index")
    if mode == "row":
        rows = [row for row in rows if str(row["id"]) != description][:k]
    show_unsafe = flag_param(request, "_unsafe")
    data["rows"] = present(rows, config, show_unsafe, database.name)
    data["hidden"] = sum(1 for row in data["rows"] if row["thumbnail"] is None)
    log.info("similar %s query: %d rows (ids %s)", mode, len(rows), [r["id"] for r in rows[:5]])
    return data


async def similar_view(datasette, request):
    config = lens_config(datasette)
    if not config["vector_index"]:
        return await respond(datasette, request, 503, {"error": (
            "Similarity search is not configured: build an index with laionlens embed and "
            "laionlens index, then start laionlens serve --index FILE.")})
    try:
        data = await search(datasette, request, config)
    except (BadRequest, NotFound) as error:
        log.warning("similar request %s?%s rejected: %s", request.path, request.query_string[:200], error)
        raise
    except ServiceUnavailable as error:
        return await respond(datasette, request, 503, {"error": str(error)})
    except VectorIndexError as error:
        log.error("vector index error: %s", error)
        return await respond(datasette, request, 503, {"error": str(error)})
    if wants_json(request) and request.args.get("_shape") == "array":
        return Response.json(data["rows"])
    return await respond(datasette, request, 200, data)


async def respond(datasette, request, status: int, data: dict) -> Response:
    if wants_json(request):
        return Response.json(dict(data, ok=status == 200), status=status)
    context = dict(data, status=status, args=request.args, k_max=lens_config(datasette)["k_max"])
    html = await datasette.render_template("similar.html", context, request=request)
    return Response.html(html, status=status)
