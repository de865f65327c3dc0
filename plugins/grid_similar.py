"""The ``?similar=ROWID`` source of the image grid: a row's nearest neighbours.

Kept apart from plugins/grid.py because it depends on the vector index, which is
optional: without one the grid shows how to configure it instead of failing.
"""

import logging

from datasette.utils.asgi import NotFound

from laionlens.config import lens_config
from laionlens.neighbours import row_neighbours
from laionlens.vectors import VectorIndexError
from plugins._pages import int_param

log = logging.getLogger("laionlens.grid")

NOT_CONFIGURED = (
    "Similarity search is not configured: no vector index is set. Build one with "
    "laionlens embed and laionlens index, then start laionlens serve --index FILE."
)


async def similar_page(datasette, database, request, row_id: int, filters: dict, size: int) -> dict:
    """Return one page of the neighbours of ``row_id``. Here ``_next`` is an offset."""
    config = lens_config(datasette)
    if not config["vector_index"]:
        return {"rows": [], "next": None, "message": NOT_CONFIGURED}
    offset = int_param(request, "_next", 0, 0, config["k_max"])
    source = (await database.execute(
        "SELECT id, url, caption, punsafe FROM images WHERE id = ?", [row_id])).first()
    if source is None:
        raise NotFound(f"No image with id {row_id}. It may have been removed.")
    k = min(offset + size + 1, config["k_max"])
    try:
        rows = await row_neighbours(datasette, database, row_id, k, filters)
    except VectorIndexError as error:
        log.error("similar images of row %d failed: %s", row_id, error)
        return {"rows": [], "next": None, "source": dict(source),
                "message": f"Similarity search failed: {error}"}
    if not rows and offset == 0:
        return {"rows": [], "next": None, "source": dict(source), "message": (
            f"No similar images for row {row_id}: it is not in the vector index (rows ingested "
            "after the index was built are not), or no neighbour passes the filters.")}
    page = rows[offset:offset + size]
    more = len(rows) > offset + size and offset + size < config["k_max"]
    return {"rows": page, "next": offset + size if more else None, "source": dict(source),
            "message": None}
