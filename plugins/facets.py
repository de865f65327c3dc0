"""The domain facet of the images table: top hosts with their image counts.

For the whole table the counts come from ``domains.image_count``, kept by the ingest,
so no page groups millions of rows. For a search or filter the matching rows are
grouped by domain under ``facet_time_limit_ms``; past it the facet is reported in
``facets_timed_out`` instead, and in JSON as the facet with ``"timed_out": true``. Enable it with ``facets: [{domain: domain_id}]`` in the
table metadata (metadata.yml does) or ``?_facet_domain=domain_id``.
"""

from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.facets import Facet
from datasette.utils import escape_sqlite, path_with_added_args, path_with_removed_args
from datasette.utils.asgi import BadRequest

from laionlens.config import lens_config

DOMAIN_COLUMN = "domain_id"
# Query string arguments that narrow the rows without being column filters.
NARROWING_ARGS = ("_where", "_through")


@hookimpl
def register_facet_classes():
    return [DomainFacet]


def is_filtered(request) -> bool:
    """True when ``request`` selects fewer rows than the whole table (pagination aside)."""
    for key in request.args:
        if not key.startswith("_") or "__" in key or key in NARROWING_ARGS:
            return True
        if key.startswith("_search") and key != "_searchmode" and request.args[key].strip():
            return True
    return False


class DomainFacet(Facet):
    type = "domain"

    async def facet_results(self):
        results, timed_out = [], []
        for config in self.get_configs():
            column = config["config"].get("column") or config["config"]["simple"]
            if column != DOMAIN_COLUMN:
                raise BadRequest(
                    f"The domain facet applies to {DOMAIN_COLUMN} only, not {column!r}: "
                    f"use _facet_domain={DOMAIN_COLUMN}, or _facet={column} for a plain facet"
                )
            try:
                rows = await self.domain_counts(column)
            except QueryInterrupted:
                # Datasette 0.65 puts facets_timed_out in the HTML page only, so an
                # empty facet marked timed_out tells JSON clients too.
                timed_out.append(column)
                results.append(dict(self.facet_info(column, config["source"], []), timed_out=True))
                continue
            results.append(self.facet_info(column, config["source"], rows))
        return results, timed_out

    async def domain_counts(self, column: str) -> list:
        """Return (id, domain, count) rows, largest first, one more than the facet size."""
        limit = self.size() + 1
        db = self.ds.get_database(self.database)
        if not is_filtered(self.request):
            sql = (
                "select id, domain, image_count from domains where image_count > 0 "
                "order by image_count desc, domain limit :limit"
            )
            return (await db.execute(sql, {"limit": limit})).rows
        sql = (
            f"select counts.value, domains.domain, counts.n from (select {escape_sqlite(column)}"
            f" as value, count(*) as n from ({self.sql}) where value is not null group by value"
            f" order by n desc limit {limit}) as counts join domains on domains.id = counts.value"
            " order by counts.n desc, domains.domain"
        )
        time_limit = int(lens_config(self.ds)["facet_time_limit_ms"])
        return (await db.execute(sql, self.params, custom_time_limit=time_limit)).rows

    def size(self) -> int:
        requested = self.request.args.get("_facet_size")
        if requested and requested.isdigit():
            return min(int(requested), self.ds.setting("max_returned_rows"))
        return int(lens_config(self.ds)["facet_size"])

    def facet_info(self, column: str, source: str, rows: list) -> dict:
        size = self.size()
        return {
            "name": column,
            "type": self.type,
            "hideable": source != "metadata",
            "toggle_url": self.ds.urls.path(
                path_with_removed_args(self.request, {f"_facet_{self.type}": column})
            ),
            "results": [self.value_info(column, row) for row in rows[:size]],
            "truncated": len(rows) > size,
        }

    def value_info(self, column: str, row) -> dict:
        value, label, count = row[0], row[1], row[2]
        selected = self.request.args.get(column) == str(value)
        if selected:
            path = path_with_removed_args(self.request, {column: str(value)})
        else:
            path = path_with_added_args(self.request, {column: value})
        return {
            "value": value,
            "label": label,
            "count": count,
            "toggle_url": self.ds.absolute_url(self.request, self.ds.urls.path(path)),
            "selected": selected,
        }
