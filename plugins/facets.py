"""The domain facet of the images table: top hosts with their image counts.

For the whole table the counts come from ``domains.image_count``, kept by the ingest,
so no page groups millions of rows. For a search or filter the matching rows are
grouped by domain under ``facet_time_limit_ms``. A facet past that limit is listed in
``facets_timed_out`` instead, and in JSON as the facet with ``"timed_out": true``.
The grouping reads at most ``facet_sample`` matches: beyond that the facet carries
``"sample": facet_sample``, meaning its counts cover the first ``facet_sample``
matches only, and the page notes it. Enable it with ``facets: [{domain: domain_id}]`` in the
table metadata (metadata.yml does) or ``?_facet_domain=domain_id``.
"""

from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.facets import Facet
from datasette.utils import escape_sqlite, path_with_added_args, path_with_removed_args
from datasette.utils.asgi import BadRequest

from laionlens.config import lens_config
from plugins.search import has_row_filters, search_arguments

DOMAIN_COLUMN = "domain_id"
# Domain counts of a filtered page over its first :lens_facet_cap matches, so a common
# word costs the same as a rare one. "probed" is above the cap when there were more.
SAMPLE_COUNTS_SQL = """
with probe as (select {column} as value from ({sql}) limit :lens_facet_cap + 1),
sample as (select value from probe limit :lens_facet_cap),
counts as (select value, count(*) as n from sample where value is not null group by value)
select counts.value, domains.domain, counts.n, (select count(*) from probe) as probed
from counts join domains on domains.id = counts.value
order by counts.n desc, domains.domain limit :lens_facet_limit
"""


@hookimpl
def register_facet_classes():
    return [DomainFacet]



def is_filtered(request) -> bool:
    """True when ``request`` selects fewer rows than the whole table (pagination aside)."""
    return has_row_filters(request) or any(text.strip() for _, text in search_arguments(request))


class DomainFacet(Facet):
    type = "domain"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Checked here, before Datasette starts any facet query, so a bad request
        # leaves no query half run.
        try:
            configs = self.get_configs()
        except ValueError as error:  # Datasette parses a "{..." value as JSON
            raise BadRequest(f"Invalid facet configuration in the URL: {error}") from error
        for config in configs:
            column = config["config"].get("column") or config["config"].get("simple")
            if column != DOMAIN_COLUMN:
                raise BadRequest(
                    f"The domain facet applies to {DOMAIN_COLUMN} only, not {column!r}: "
                    f"use _facet_domain={DOMAIN_COLUMN}, or _facet={column} for a plain facet"
                )

    async def facet_results(self):
        results, timed_out = [], []
        for config in self.get_configs():
            column = config["config"].get("column") or config["config"]["simple"]
            try:
                rows, sample = await self.domain_counts()
            except QueryInterrupted:
                # Datasette 0.65 puts facets_timed_out in the HTML page only, so an
                # empty facet marked timed_out reports it to JSON clients too.
                timed_out.append(column)
                results.append(dict(self.facet_info(column, config["source"], []), timed_out=True))
                continue
            results.append(dict(self.facet_info(column, config["source"], rows), sample=sample))
        return results, timed_out

    async def domain_counts(self) -> tuple[list, int | None]:
        """Return (id, domain, count) rows, largest first and one more than the facet
        size, and the number of matches they were counted over (None: all of them)."""
        limit = self.size() + 1
        db = self.ds.get_database(self.database)
        if not is_filtered(self.request):
            sql = (
                "select id, domain, image_count from domains where image_count > 0 "
                "order by image_count desc, domain limit :limit"
            )
            return (await db.execute(sql, {"limit": limit})).rows, None
        config = lens_config(self.ds)
        cap = int(config["facet_sample"])
        sql = SAMPLE_COUNTS_SQL.format(column=escape_sqlite(DOMAIN_COLUMN), sql=self.sql)
        params = dict(self.params, lens_facet_cap=cap, lens_facet_limit=limit)
        rows = (await db.execute(
            sql, params, custom_time_limit=int(config["facet_time_limit_ms"])
        )).rows
        probed = rows[0][3] if rows else 0
        return [row[:3] for row in rows], (cap if probed > cap else None)

    def size(self) -> int:
        requested = self.request.args.get("_facet_size")
        if requested and requested.isascii() and requested.isdigit():
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
