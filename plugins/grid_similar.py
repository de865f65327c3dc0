"""The ``?similar=ROWID`` source of the image grid: a row's nearest neighbours.

Kept apart from plugins/grid.py because it depends on the vector index, which is
optional: without one the grid says how to configure it instead of failing.
"""

import logging

from datasette.utils.asgi import NotFound

from laionlens.config import lens_config
from plugins._pages import int_param

log = logging.getLogger("laionlens.grid")

NOT_CONFIGURED = (
    "Similarity search is not configured: no vector index is set. Build one with "
    "laionlens embed and laionlens index, then start laionlens serve --index FILE."
)


async def similar_page(datasette, database, request, row_id: int, filters: dict, size: int) -> dict:
    """Return one page of the neighbours of ``row_id``; ``_next`` is an offset here."""
    config = lens_config(datasette)
    if not config["vector_index"]:
        return {"rows": [], "next": None, "message": NOT_CONFIGURED}
    offset = int_param(request, "_next", 0, 0, config["k_max"])
    if not (await database.execute("SELECT 1 FROM images WHERE id = ?", [row_id])).rows:
        raise NotFound(f"No image with id {row_id}; it may have been removed")
    try:
        from laionlens.neighbours import row_neighbours
    except ImportError:
        return {"rows": [], "next": None,
                "message": "Similarity search is not available in this installation."}
    k = min(offset + size + 1, config["k_max"])
    rows = await row_neighbours(datasette, database, row_id, k, filters)
    page = rows[offset:offset + size]
    more = len(rows) > offset + size
    return {"rows": page, "next": offset + size if more else None, "message": None}
