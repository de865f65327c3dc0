"""Name report for artists: ``/-/name?name=Greg+Rutkowski`` (and ``/-/name.json``).

The page gives an exact count of the captions that mention a name as a phrase. From
the matches with the highest ids it also shows where the images come from, which
words appear with the name, how their aesthetic scores spread, and example images. The export of every match
lives in plugins/name_export.py.
"""

from urllib.parse import urlencode

from datasette import hookimpl
from datasette.utils.asgi import BadRequest

from laionlens import caption_stats
from laionlens.config import lens_config
from plugins import name_export
from plugins._pages import (
    allow_methods,
    flag_param,
    form_response,
    image_item,
    images_database,
    page_response,
    page_url,
    text_param,
)

SAMPLE_SIZE = 2000
EXAMPLES = 24


def build_report(conn, name: str, sample_size: int = SAMPLE_SIZE) -> dict:
    """Return the figures of the name report for ``name`` (blocking; run in execute_fn)."""
    query = caption_stats.phrase_query(name)
    count, _ = caption_stats.match_count(conn, query)
    sample = caption_stats.sample_matches(conn, query, sample_size)
    captions = [row["caption"] for row in sample]
    scores = [row["aesthetic"] for row in sample]
    return {
        "name": name,
        "fts_query": query,
        "count": count,
        "dataset_rows": caption_stats.indexed_rows(conn),
        "sample_size": len(sample),
        "sample_is_all": len(sample) == count,
        "domains": caption_stats.domain_counts(sample),
        "words": caption_stats.top_terms(captions, exclude=caption_stats.tokens(name)),
        "aesthetic_histogram": caption_stats.histogram(scores),
        "aesthetic_missing": sum(score is None for score in scores),
        "rows": sorted(sample, key=lambda row: -(row["aesthetic"] or 0))[:EXAMPLES],
    }


async def name_page(datasette, request):
    name = text_param(request, "name", required=False)
    if name is None:
        return await form_response(datasette, request, "name_report.html", "name")
    database = await images_database(datasette)
    try:
        report = await database.execute_fn(lambda conn: build_report(conn, name))
    except caption_stats.EmptyQueryError as error:
        raise BadRequest(str(error))
    config = lens_config(datasette)
    show_unsafe = flag_param(request, "_unsafe")
    rows = report.pop("rows")
    report["aesthetic_peak"] = max((b["count"] for b in report["aesthetic_histogram"]), default=0)
    report["examples"] = [
        image_item(datasette, database.name, row, config["punsafe_threshold"], show_unsafe)
        for row in rows
    ]
    query_string = urlencode({"name": name})
    report["export_csv"] = f"/-/name/export.csv?{query_string}"
    report["export_json"] = f"/-/name/export.json?{query_string}"
    report["grid_url"] = "/-/grid?" + urlencode({"q": name, "_phrase": 1})
    extra = {"show_unsafe": show_unsafe, "unsafe_url": page_url(request, _unsafe="1")}
    return await page_response(datasette, request, "name_report.html", report, extra)


@hookimpl
def menu_links(datasette):
    return [{"href": datasette.urls.path("/-/name"), "label": "Name report (artists)"}]


@hookimpl
def register_routes():
    return [
        (r"^/-/name(?P<format>\.json)?$", allow_methods("GET")(name_page)),
        (r"^/-/name/export\.(?P<file_format>csv|json)$", allow_methods("GET")(name_export.export)),
    ]
