"""Search latency: LAION Lens next to plain Datasette, on the same database file.

Starts two servers on 127.0.0.1: ``laionlens serve`` (the plugins and metadata.yml)
and plain ``datasette serve`` with default settings and no metadata. Each fixed query
goes through both JSON APIs, asking each for the same things: the first page of 50
matches, the result count and the top domains. Plain Datasette cannot find the
contentless caption index by itself, so its URLs name it with
``_fts_table=images_fts&_fts_pk=id`` and ask for ``_facet=domain_id``. Requests run one
at a time, alternating between the servers, after one untimed warm-up round, so both
read from the same warm page cache.

Example: python -m bench.search_latency --db bench/out/laion-12m.db --repeat 5
"""

import json
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import click
import httpx

from bench.common import BIN, machine

# (query, kind): the whole table, rare names and phrases, common words, phrases.
QUERIES = [
    ("", "no search: whole table"),
    ("velinov", "rare name"),
    ("tavern brawl", "rare phrase"),
    ("greg", "rare word"),
    ("watercolor", "uncommon word"),
    ("painting", "common word"),
    ("photo", "common word"),
    ("the", "most common word"),
    ("oil painting", "phrase"),
    ("stock photo", "common phrase"),
    ("black and white", "phrase"),
    ("t-shirt", "hyphenated word"),
]
PAGE_SIZE = 50
LENS_PORT, PLAIN_PORT = 8911, 8912


def start(args: list[str], port: int, log_path: Path) -> subprocess.Popen:
    """Start a server and return once it responds on ``port``."""
    log = log_path.open("w")
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/-/versions.json", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.5)
        if process.poll() is not None:
            break
    process.kill()
    raise click.ClickException(f"Server on port {port} did not start within 300 s: see {log_path}")


def lens_path(db: str, query: str) -> tuple[str, dict]:
    params = {"_search": query, "_size": PAGE_SIZE} if query else {"_size": PAGE_SIZE}
    return f"/{db}/images.json", params


def plain_path(db: str, query: str) -> tuple[str, dict]:
    # A blank _search is an FTS5 syntax error in plain Datasette, so the whole-table
    # request leaves the search arguments out.
    params = {"_size": PAGE_SIZE, "_facet": "domain_id"}
    if query:
        params.update({"_search": query, "_fts_table": "images_fts", "_fts_pk": "id"})
    return f"/{db}/images.json", params


def timed_get(client: httpx.Client, port: int, path: str, params: dict) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = client.get(f"http://127.0.0.1:{port}{path}", params=params)
    response.read()
    return (time.perf_counter() - started) * 1000, response


def summary(response: httpx.Response) -> dict:
    """Return the status, result count and top three domains of a table JSON response."""
    if response.status_code != 200:
        return {"status": response.status_code, "count": None, "domains": []}
    data = response.json()
    lens = data.get("lens_count")
    if lens:
        count = lens["count"] if lens["exact"] else f">{lens['cap']}"
    else:
        count = data.get("filtered_table_rows_count")
    facet = data.get("facet_results", {}).get("domain_id") or {}
    domains = [str(value["label"]) for value in facet.get("results", [])[:3]]
    if not facet or facet.get("timed_out") or "domain_id" in data.get("facets_timed_out", []):
        domains = ["(facet timed out)"]
    return {"status": 200, "count": count, "domains": domains, "rows": len(data["rows"])}


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def run_rounds(db: str, repeat: int) -> dict:
    """Time every query on both servers ``repeat`` times and return times and summaries."""
    results = {name: {query: {"ms": []} for query, _ in QUERIES} for name in ("lens", "plain")}
    servers = (("lens", LENS_PORT, lens_path), ("plain", PLAIN_PORT, plain_path))
    with httpx.Client(timeout=120) as client:
        for round_number in range(repeat + 1):
            for query, _ in QUERIES:
                for name, port, make_path in servers:
                    ms, response = timed_get(client, port, *make_path(db, query))
                    entry = results[name][query]
                    entry.update(summary(response))
                    if round_number:  # round 0 warms the page cache and is not timed
                        entry["ms"].append(ms)
            click.echo(f"round {round_number}/{repeat} done", err=True)
    return results


def report(results: dict, db_path: Path, rows: int, repeat: int) -> str:
    """Return the Markdown table and the overall percentiles."""
    lines = [
        "| query | kind | Lens count | Lens top domains | Lens p50 ms | plain count | plain top domains | plain p50 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for query, kind in QUERIES:
        lens, plain = results["lens"][query], results["plain"][query]
        lines.append(
            f"| {f'`{query}`' if query else '(none)'} | {kind} | {describe_count(lens)} | {', '.join(lens['domains'])} "
            f"| {statistics.median(lens['ms']):.0f} | {describe_count(plain)} "
            f"| {', '.join(plain['domains'])} | {statistics.median(plain['ms']):.0f} |"
        )
    lines += ["", f"{len(QUERIES)} queries x {repeat} rounds on {db_path.name} ({rows:,} rows)."]
    overall = {}
    for name, title in (("lens", "LAION Lens"), ("plain", "Plain Datasette")):
        times = [ms for entry in results[name].values() for ms in entry["ms"]]
        overall[name] = (percentile(times, 50), percentile(times, 95), max(times))
        lines.append(f"{title}: p50 {overall[name][0]:.0f} ms, p95 {overall[name][1]:.0f} ms, "
                     f"max {overall[name][2]:.0f} ms.")
    p50_ratio = overall["plain"][0] / overall["lens"][0]
    p95_ratio = overall["plain"][1] / overall["lens"][1]
    lines.append(f"Ratio plain / Lens: p50 {p50_ratio:.1f}x, p95 {p95_ratio:.1f}x.")
    return "\n".join(lines)


def describe_count(entry: dict) -> str:
    if entry["status"] != 200:
        return f"HTTP {entry['status']}"
    return "not counted" if entry["count"] is None else (
        entry["count"] if isinstance(entry["count"], str) else f"{entry['count']:,}")


def row_count(db_path: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return conn.execute("select max(id) from images").fetchone()[0] or 0
    finally:
        conn.close()


@click.command()
@click.option("--db", "db_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="LAION Lens database built by laionlens ingest.")
@click.option("--repeat", default=5, show_default=True, type=click.IntRange(1),
              help="Timed rounds over the query set, after one untimed warm-up round.")
@click.option("--json-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write every timing (milliseconds) to this JSON file.")
def main(db_path: Path, repeat: int, json_out: Path | None) -> None:
    """Time caption searches through the JSON API of LAION Lens and of plain Datasette.

    Example: python -m bench.search_latency --db bench/out/laion-12m.db --repeat 5
    """
    logs = db_path.parent
    lens = start([str(BIN / "laionlens"), "serve", "--db", str(db_path), "--port", str(LENS_PORT)],
                 LENS_PORT, logs / "search-latency-lens.log")
    plain = None
    try:
        plain = start([str(BIN / "datasette"), "serve", str(db_path), "--port", str(PLAIN_PORT)],
                      PLAIN_PORT, logs / "search-latency-plain.log")
        results = run_rounds(db_path.stem, repeat)
    finally:
        for process in (lens, plain):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
    click.echo(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {machine()}, Python {sys.version.split()[0]}")
    click.echo(report(results, db_path, row_count(db_path), repeat))
    if json_out:
        json_out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
