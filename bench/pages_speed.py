"""Time the name report, keyword explorer, image grid and name export on a large database.

Requests go through Datasette's own ASGI client with the LAION Lens plugins, so a
figure covers SQL, Python and template rendering, but not the network. Each request
runs once cold (first touch of its pages since the script started) and then
``--repeat`` times. The median of the repeats is reported beside the cold time.
Start-up, which counts the keyword page's background terms, is timed on its own.
Cold figures depend on the OS page cache, which the script does not drop. The
database is only read: Datasette opens it with ``mode=ro``.

Example:
    python -m bench.pages_speed --db /data/laion-12m.db --name "Various Artists" --word black
"""

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from urllib.parse import urlencode

from bench.common import machine


def make_datasette(db_path: Path):
    from datasette.app import Datasette

    from laionlens.commands.serve import DEFAULT_METADATA, load_metadata
    from plugins import register_plugins

    register_plugins()
    metadata = load_metadata(DEFAULT_METADATA, {})
    return Datasette([str(db_path)], metadata=metadata,
                     settings={"sql_time_limit_ms": 5000, "num_sql_threads": 4})


async def timed_get(datasette, path: str) -> tuple[float, int, int]:
    """Return (seconds, status, body bytes) of one GET, streamed bodies read to the end."""
    started = time.perf_counter()
    response = await datasette.client.get(path)
    body = len(response.content)
    return time.perf_counter() - started, response.status_code, body


async def measure(datasette, label: str, path: str, repeat: int) -> dict:
    cold, status, size = await timed_get(datasette, path)
    if status != 200:
        raise SystemExit(f"{path} returned HTTP {status}. Fix that before timing it.")
    warm = [(await timed_get(datasette, path))[0] for _ in range(repeat)]
    return {"page": label, "path": path, "cold_s": cold, "warm_median_s": statistics.median(warm),
            "warm_max_s": max(warm), "bytes": size}


def requests(name: str, word: str, versus: str) -> list[tuple[str, str]]:
    return [
        (f"Name report JSON, {name!r}", "/-/name.json?" + urlencode({"name": name})),
        (f"Name report HTML, {name!r}", "/-/name?" + urlencode({"name": name})),
        (f"Keyword JSON, {word!r}", "/-/keywords.json?" + urlencode({"q": word})),
        (f"Keyword HTML, {word!r}", "/-/keywords?" + urlencode({"q": word})),
        (f"Keyword comparison, {word!r} vs {versus!r}",
         "/-/keywords?" + urlencode({"q": word, "vs": versus})),
        (f"Grid HTML, q={word!r}, 48 tiles", "/-/grid?" + urlencode({"q": word})),
        (f"Name export CSV, {name!r} (every match)", "/-/name/export.csv?" + urlencode({"name": name})),
    ]


async def run(args) -> list[dict]:
    datasette = make_datasette(args.db)
    counts = await datasette.client.get("/-/name.json?" + urlencode({"name": args.name}))
    keyword = await datasette.client.get("/-/keywords.json?" + urlencode({"q": args.word}))
    args.counts = {"name": args.name, "name_matches": counts.json()["count"], "word": args.word,
                   "word_matches": keyword.json()["q"]["count"],
                   "dataset_rows": keyword.json()["dataset_rows"]}
    print(f"{args.name!r}: {args.counts['name_matches']:,} matching captions; "
          f"{args.word!r}: {args.counts['word_matches']:,} of {args.counts['dataset_rows']:,} rows")
    # The two requests above warmed the pages they touched; reopen for cold figures.
    datasette = make_datasette(args.db)
    started = time.perf_counter()
    await datasette.invoke_startup()
    startup = {"page": "Server start-up (counts background terms)", "path": "", "cold_s":
               time.perf_counter() - started, "warm_median_s": 0.0, "warm_max_s": 0.0, "bytes": 0}
    return [startup] + [await measure(datasette, label, path, args.repeat)
                        for label, path in requests(args.name, args.word, args.versus)]


def table(results: list[dict]) -> str:
    lines = ["| Request | Cold (s) | Warm median (s) | Warm max (s) | Body |",
             "|---|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['page']} | {r['cold_s']:.3f} | {r['warm_median_s']:.3f} | "
                     f"{r['warm_max_s']:.3f} | {r['bytes'] / 1024:,.0f} KiB |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 2)[2])
    parser.add_argument("--db", type=Path, required=True, help="LAION Lens database to read.")
    parser.add_argument("--name", default="Various Artists", help="Name for the name report.")
    parser.add_argument("--word", default="black", help="Common word for the keyword page.")
    parser.add_argument("--versus", default="white", help="Second word for the comparison.")
    parser.add_argument("--repeat", type=int, default=5, help="Warm repeats per request.")
    parser.add_argument("--out", type=Path, default=Path("bench/out/pages_speed.json"),
                        help="JSON file for the results.")
    args = parser.parse_args()
    if not args.db.is_file():
        raise SystemExit(f"Database {str(args.db)!r} not found")
    results = asyncio.run(run(args))
    print(f"Machine: {machine()}\n")
    print(table(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {"db": str(args.db), "machine": machine(), "counts": args.counts, "results": results}
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
