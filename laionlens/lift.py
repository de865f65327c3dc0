"""Terms that come with a keyword more often than elsewhere: lift, and what it costs.

Lift = P(term | caption has the keyword) / P(term). The first share comes from a
sample of matching captions. The second needs the number of captions in the whole
dataset that contain the term. The index's fts5vocab table gives it exactly, but only
by walking the term's whole list of rows. On the 2-core bench machine that took 9 ms
for a term in 78,000 captions (estimate: about 50 ms at 400,000), so the hundreds of
candidate terms of a common keyword would take seconds at 12 million rows.

Common terms are therefore counted in a fixed background sample of captions spread
evenly over the ids: their share is large, so the estimate is close. Only terms too
rare for that sample, whose lists are short and quick to walk, are looked up exactly.
Each figure says which it is. When the background sample contains every row, all
counts are exact.
"""

import math
import random

from laionlens.caption_stats import caption_term_counts, doc_counts, indexed_rows

BACKGROUND_SIZE = 10_000
# The background is read as runs of consecutive rows, which cost one b-tree seek each,
# where 10,000 scattered rows would cost 10,000 seeks on a cold 12-million-row file.
BACKGROUND_RUN = 50
# A term in at least this many background captions has its count estimated from
# them (relative error around 1/sqrt(10), about 30%, at the threshold, less above);
# rarer terms are looked up exactly.
BACKGROUND_MIN = 10
CANDIDATES = 300
MIN_COUNT = 3
MIN_SHARE = 0.01


def run_starts(low: int, high: int, runs: int, seed: int = 0) -> list[int]:
    """Return up to ``runs`` distinct ids from ``low`` to ``high``, drawn at random.

    Random, not evenly spaced: a dataset whose rows repeat with a period (the
    benchmark's copies of a 10,000-row sample) would put every evenly spaced run on
    the same captions. A fixed seed keeps the counts the same from one start to the next.
    """
    ids = range(low, high + 1)
    return sorted(random.Random(seed).sample(ids, min(runs, len(ids))))


def background_key(conn) -> tuple:
    """Return what changes when rows are ingested or removed, to tell a stale background.

    The indexed row count changes with every ingest or removal. The largest id also
    changes when as many rows are added as were removed.
    """
    high = conn.execute("SELECT max(id) FROM images").fetchone()[0]
    removed = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'removed_rows'").fetchone()
    last_removed = conn.execute("SELECT max(image_id) FROM removed_rows").fetchone()[0] if removed else None
    return indexed_rows(conn), high, last_removed


def background_counts(conn, size: int = BACKGROUND_SIZE, run: int = BACKGROUND_RUN) -> dict:
    """Count terms in about ``size`` captions read in runs of ``run`` rows spread over the ids.

    Returns {"size", "counts", "complete"}; complete means every row was read.
    """
    # Two queries, because SQLite answers min() or max() alone from the b-tree but
    # scans the whole table for both in one statement.
    low = conn.execute("SELECT min(id) FROM images").fetchone()[0]
    high = conn.execute("SELECT max(id) FROM images").fetchone()[0]
    if low is None:
        return {"size": 0, "counts": {}, "complete": True}
    # Removed rows leave gaps in the ids, so a span wider than size can still hold
    # fewer rows than size, and runs over it would read some rows twice.
    if high - low + 1 <= size or indexed_rows(conn) <= size:
        captions = [row[0] for row in conn.execute("SELECT caption FROM images")]
        return {"size": len(captions), "counts": caption_term_counts(captions), "complete": True}
    captions = []
    for start in run_starts(low, high, size // run):
        sql = "SELECT caption FROM images WHERE id >= ? ORDER BY id LIMIT ?"
        captions += [row[0] for row in conn.execute(sql, (start, run))]
    return {"size": len(captions), "counts": caption_term_counts(captions), "complete": False}


def overall_counts(conn, terms, background: dict, dataset_rows: int) -> dict[str, tuple[int, bool]]:
    """Return term -> (number of captions in the dataset that contain it, exact?)."""
    result, rare = {}, []
    for term in terms:
        seen = background["counts"].get(term, 0)
        if background["complete"]:
            result[term] = (seen, True)
        elif seen >= BACKGROUND_MIN:
            result[term] = (round(seen / background["size"] * dataset_rows), False)
        else:
            rare.append(term)
    result.update({term: (count, True) for term, count in doc_counts(conn, rare).items()})
    return result


def terms_by_lift(conn, captions, exclude, dataset_rows: int, background: dict,
                  limit: int = 25) -> list[dict]:
    """Rank the terms of the sampled ``captions`` by lift, with the counts behind each.

    A term must be in at least 1% of the sampled captions, and in 3 of them at least.
    Below that, lift ranks first the rare words that happen to sit next to the keyword
    once or twice, which is noise.
    """
    sample = len(captions)
    if sample == 0 or dataset_rows == 0:
        return []
    min_count = max(MIN_COUNT, math.ceil(sample * MIN_SHARE))
    counts = caption_term_counts(captions, exclude)
    candidates = [(t, c) for t, c in counts.most_common(CANDIDATES) if c >= min_count]
    overall = overall_counts(conn, [term for term, _ in candidates], background, dataset_rows)
    ranked = []
    for term, count in candidates:
        total, exact = overall[term]
        if exact and total < count:
            continue  # the tokenizer here and FTS5's disagree on this term; skip it
        total = max(total, count)  # an estimate can fall short of what the sample holds
        ranked.append({"term": term, "count": count, "sample": sample, "overall": total,
                       "overall_exact": exact, "lift": (count / sample) / (total / dataset_rows)})
    ranked.sort(key=lambda item: (-item["lift"], -item["count"]))
    return ranked[:limit]
