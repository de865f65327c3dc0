"""``/-/compare``: upload an image (any generator's output, or any picture) and compare
it with its nearest training images.

The upload is a multipart/form-data POST with the file in the ``image`` field. Optional
fields are the ``prompt`` that produced the image (for caption counts) and ``k``. A POST
whose body is the image itself (``Content-Type: image/*``) also works. Uploads larger than ``max_image_bytes`` get a 400.
"""

import hmac
import logging

from datasette import hookimpl
from datasette.utils.asgi import BadRequest, Forbidden, Response

from laionlens.comparison import (
    ComparisonUnavailable,
    InvalidImage,
    check_ready,
    open_image,
    png_bytes,
)
from laionlens.config import lens_config
from plugins._generation_pages import (
    FORM_OVERHEAD_BYTES,
    STYLESHEET,
    compare_and_store,
    content_type,
    error_response,
    k_value,
    multipart_fields,
    new_record,
    read_body,
    result_response,
    wants_json,
)
from plugins._pages import allow_methods, images_database

log = logging.getLogger("laionlens.compare")

TEMPLATE = "compare.html"


@hookimpl
def register_routes():
    return [(r"^/-/compare(\.(?P<format>json))?$", allow_methods("GET", "POST")(compare_view))]


@hookimpl
def skip_csrf(scope):
    # asgi-csrf 0.11 crashes (HTTP 500) on every multipart body with python-multipart
    # 0.0.34, whose FormParser no longer takes the FileClass argument. This route checks
    # the token of multipart uploads itself (check_csrf). A raw image/* body needs no
    # token, because a cross-site page cannot send that content type without a CORS
    # preflight.
    headers = dict(scope.get("headers") or [])
    kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    on_route = scope.get("path", "") in ("/-/compare", "/-/compare.json")
    return on_route and (kind == b"multipart/form-data" or kind.startswith(b"image/"))


def check_csrf(request, fields: dict) -> None:
    """Raise Forbidden unless the form's csrftoken field matches the signed CSRF cookie.

    Requests without cookies carry no ambient credentials and pass, as with asgi-csrf.
    """
    if not request.headers.get("cookie"):
        return
    sent = fields.get("csrftoken", (b"", None))[0].decode("utf-8", "replace")
    expected = request.scope["csrftoken"]() if "csrftoken" in request.scope else None
    if not expected or not hmac.compare_digest(sent, expected):
        raise Forbidden(
            "The form's CSRF token is missing or does not match its cookie; "
            "reload /-/compare and upload again"
        )


async def compare_view(datasette, request):
    config = lens_config(datasette)
    context = {"max_image_bytes": config["max_image_bytes"], "values": {"prompt": "", "k": config["k_default"]},
               "threshold": config["replication_threshold"]}
    if request.method != "POST":
        if wants_json(request):
            return Response.json({"ok": True, "max_image_bytes": config["max_image_bytes"]})
        page = dict(context, stylesheet=STYLESHEET)
        return Response.html(await datasette.render_template(TEMPLATE, page, request=request))
    try:
        data, values = await uploaded_image(request, int(config["max_image_bytes"]))
        context["values"].update({key: values[key] for key in ("prompt", "k") if key in values})
        k = k_value(values, config)
        image = open_image(data, "uploaded file")
    except (BadRequest, Forbidden, InvalidImage) as error:
        status = getattr(error, "status", 400)
        return await error_response(datasette, request, status, str(error), TEMPLATE, context)
    prompt = (values.get("prompt") or "").strip() or None
    record = new_record("upload", "upload", data, png_bytes(data, image), image, {"k": k, "prompt": prompt})
    record.prompt = prompt
    db = await images_database(datasette)
    try:
        await check_ready(datasette, config)
        result = await compare_and_store(datasette, db, config, image, record, k)
    except ComparisonUnavailable as error:
        return await error_response(datasette, request, 503, str(error), TEMPLATE, context)
    log.info("upload id=%s bytes=%d sha256=%s", result["id"], len(data), record.image_sha256)
    return await result_response(datasette, request, result, db.name)


async def uploaded_image(request, limit: int) -> tuple[bytes, dict]:
    """Return the uploaded image bytes and the text fields sent with them."""
    kind = content_type(request)
    if kind.startswith("image/"):
        return await read_body(request, limit), {key: request.args.get(key) for key in request.args}
    if kind != "multipart/form-data":
        raise BadRequest(
            f"Content-Type {kind or 'none'!r} is not an upload; send multipart/form-data "
            "with the file in the 'image' field, or the image itself as image/png or image/jpeg"
        )
    body = await read_body(request, limit + FORM_OVERHEAD_BYTES)
    fields = multipart_fields(request, body)
    check_csrf(request, fields)
    if "image" not in fields:
        raise BadRequest(f"No 'image' field in the upload (got: {', '.join(sorted(fields)) or 'none'})")
    data = fields.pop("image")[0]
    if len(data) > limit:
        raise BadRequest(f"The image is {len(data)} bytes; the limit is {limit} bytes")
    fields.pop("csrftoken", None)
    return data, {name: value.decode("utf-8", "replace") for name, (value, _) in fields.items()}
