"""``/-/generations/{id}``: the permalink of one stored generation or upload, as HTML,
JSON (``.json``) or the image itself (``.png``). Everything it shows is read back from
the ``generations`` table, so it outlives the server process.
"""

from datasette import hookimpl
from datasette.utils.asgi import NotFound, Response

from laionlens.provenance import GenerationNotFound, load_generation
from plugins._generation_pages import page_data, result_response
from plugins._pages import allow_methods, images_database


@hookimpl
def register_routes():
    return [(r"^/-/generations/(?P<id>[0-9]{1,18})(\.(?P<format>json|png))?$", allow_methods("GET")(generation_view))]


async def generation_view(datasette, request):
    generation_id = int(request.url_vars["id"])
    with_image = request.url_vars.get("format") == "png"
    db = await images_database(datasette)
    try:
        row = await db.execute_fn(lambda conn: load_generation(conn, generation_id, with_image))
    except GenerationNotFound as error:
        raise NotFound(str(error)) from None
    if with_image:
        return Response(row["image_png"], content_type="image/png",
                        headers={"Cache-Control": "max-age=31536000, immutable"})
    data = page_data(datasette, generation_id, row)
    return await result_response(datasette, request, data, db.name)
