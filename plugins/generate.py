"""``/-/generate``: generate an image from a prompt with the configured backend and
compare it with its nearest training images.

GET shows the form; POST (form fields or a JSON object) runs one generation. The
result is stored in ``generations`` and has a permalink (see plugins/generations.py).
"""

import logging
import time

from datasette import hookimpl
from datasette.utils.asgi import BadRequest, Response

from laionlens.comparison import (
    ComparisonUnavailable,
    InvalidImage,
    check_ready,
    open_image,
    png_bytes,
)
from laionlens.config import lens_config
from laionlens.generators import (
    GeneratorError,
    InvalidParameter,
    backend_from_config,
    params_from_values,
)
from plugins._generation_pages import (
    STYLESHEET,
    compare_and_store,
    error_response,
    form_values,
    generation_slots,
    k_value,
    new_record,
    result_response,
    wants_json,
)
from plugins._pages import allow_methods, images_database

log = logging.getLogger("laionlens.generate")

TEMPLATE = "generate.html"
# A prompt form is tiny; anything bigger is not a generation request.
MAX_FORM_BYTES = 64 * 1024


@hookimpl
def register_routes():
    return [(r"^/-/generate(\.(?P<format>json))?$", allow_methods("GET", "POST")(generate_view))]


@hookimpl
def skip_csrf(scope):
    # A cross-site page cannot send a JSON body without a CORS preflight, so JSON POSTs
    # from scripts that carry cookies need no CSRF token.
    headers = dict(scope.get("headers") or [])
    return scope.get("path", "").startswith("/-/generate") and headers.get(
        b"content-type", b""
    ).startswith(b"application/json")


async def generate_view(datasette, request):
    config = lens_config(datasette)
    context = form_context(config, {})
    if request.method != "POST":
        return await show_form(datasette, request, context)
    try:
        values = await form_values(request, MAX_FORM_BYTES)
        context = form_context(config, values)
        params = params_from_values(values)
        k = k_value(values, config)
    except (BadRequest, InvalidParameter) as error:
        return await error_response(datasette, request, 400, str(error), TEMPLATE, context)
    return await run_generation(datasette, request, config, params, k, context)


async def show_form(datasette, request, context):
    if wants_json(request):
        return Response.json({"ok": True, "backend": context["backend"], "defaults": context["values"],
                              "disabled": context["disabled"]})
    page = dict(context, stylesheet=STYLESHEET)
    return Response.html(await datasette.render_template(TEMPLATE, page, request=request))


def form_context(config: dict, values: dict) -> dict:
    """Build the form's context: the backend, why generation is disabled (if it is), and
    the values the request sent."""
    settings = config["generator"]
    disabled = None
    try:
        backend_from_config(settings)
    except GeneratorError as error:
        disabled = str(error)
    defaults = {"prompt": "", "negative_prompt": "", "seed": -1, "steps": 20, "width": 512,
                "height": 512, "cfg_scale": 7.0, "k": config["k_default"]}
    field_values = {key: values.get(key, default) for key, default in defaults.items()}
    return {"backend": settings.get("backend"), "disabled": disabled, "values": field_values,
            "threshold": config["replication_threshold"]}


async def run_generation(datasette, request, config, params, k, context):
    """Generate under the concurrency cap, then compare, store and return the result."""
    try:
        backend = backend_from_config(config["generator"])
        await check_ready(datasette, config)
    except GeneratorError as error:
        return await error_response(datasette, request, error.status, str(error), TEMPLATE, context)
    except ComparisonUnavailable as error:
        return await error_response(datasette, request, 503, str(error), TEMPLATE, context)
    slots = generation_slots(datasette, config["generator"].get("max_concurrent") or 1)
    if not slots.try_acquire():
        message = f"All {slots.limit} generation slot(s) are busy; retry in {slots.retry_after()} s"
        headers = {"Retry-After": str(slots.retry_after())}
        return await error_response(datasette, request, 429, message, TEMPLATE, context, headers)
    started = time.monotonic()
    try:
        generated = await backend.generate(params)
    except GeneratorError as error:
        log_generation(None, backend.name, error.kind, started)
        return await error_response(datasette, request, error.status, str(error), TEMPLATE, context)
    finally:
        slots.release(time.monotonic() - started)
    return await compare_generated(datasette, request, config, params, k, generated, started, context)


async def compare_generated(datasette, request, config, params, k, generated, started, context):
    try:
        image = open_image(generated.data, f"image from the {generated.backend} backend")
    except InvalidImage as error:
        log_generation(None, generated.backend, "bad_image", started)
        return await error_response(datasette, request, 502, str(error), TEMPLATE, context)
    record = new_record("generate", generated.backend, generated.data, png_bytes(generated.data, image),
                        image, dict(params.to_dict(), k=k))
    record.model, record.seed = generated.model, generated.seed
    record.prompt, record.negative_prompt = params.prompt, params.negative_prompt
    record.duration_ms = round((time.monotonic() - started) * 1000)
    db = await images_database(datasette)
    try:
        data = await compare_and_store(datasette, db, config, image, record, k,
                                       {"backend_details": generated.details})
    except ComparisonUnavailable as error:
        log_generation(None, generated.backend, "compare_failed", started)
        return await error_response(datasette, request, 503, str(error), TEMPLATE, context)
    log_generation(data["id"], generated.backend, "ok", started)
    return await result_response(datasette, request, data, db.name)


def log_generation(generation_id, backend: str, status: str, started: float) -> None:
    duration_ms = round((time.monotonic() - started) * 1000)
    log.info("generation id=%s backend=%s status=%s duration_ms=%d", generation_id, backend, status, duration_ms)
