"""laionlens.caption_stats: tokenising like FTS5, the index's row count, histograms."""

import sqlite3

import pytest

from laionlens import caption_stats, lift
from tests.lens_pages_db import build_db


@pytest.mark.parametrize("text, expected", [
    ("Café crème", ["cafe", "creme"]),  # accents removed, as remove_diacritics 2 does
    ("Dvořák", ["dvorak"]),
    ("snake_case-word", ["snake", "case", "word"]),  # underscore separates, as in unicode61
    ("ＦＵＬＬ width", ["full", "width"]),  # NFKC in fts_text
    ("日本語", ["日", "本", "語"]),  # unspaced scripts: one token per character
    ("4K HDR, 2023!", ["4k", "hdr", "2023"]),
    ("", []),
    (None, []),
])
def test_tokens_split_like_the_fts_tokenizer(text, expected):
    assert caption_stats.tokens(text) == expected


@pytest.mark.parametrize("text", ["Café crème brûlée", "Dvořák's New World", "日本語 text"])
def test_tokens_are_found_in_the_fts_vocabulary(tmp_path, text):
    db_path = build_db(tmp_path, [{"url": "https://x.example/1.jpg", "caption": text}])
    conn = sqlite3.connect(db_path)
    counts = caption_stats.doc_counts(conn, caption_stats.tokens(text))
    assert all(count == 1 for count in counts.values()), counts


@pytest.mark.parametrize("text, query", [
    ("Greg Rutkowski", '"Greg Rutkowski"'),
    ('say "hi"', '"say ""hi"""'),  # quotes doubled so they stay text
    ("NOT a NEAR b", '"NOT a NEAR b"'),  # operators are words inside a phrase
])
def test_phrase_query_makes_one_quoted_phrase(text, query):
    assert caption_stats.phrase_query(text) == query


@pytest.mark.parametrize("text", ["", "   ", "(", '"', "*-^"])
def test_phrase_query_without_letters_raises(text):
    with pytest.raises(caption_stats.EmptyQueryError, match="no letters or digits"):
        caption_stats.phrase_query(text)


@pytest.mark.parametrize("rows", [1, 127, 128, 300, 16_400])  # varints of 1, 2 and 3 bytes
def test_indexed_rows_reads_the_count_fts5_keeps(tmp_path, rows):
    db_path = build_db(tmp_path, [{"url": f"https://x.example/{i}", "caption": f"c {i}"}
                                  for i in range(rows)])
    conn = sqlite3.connect(db_path)
    assert caption_stats.indexed_rows(conn) == rows == conn.execute(
        "SELECT count(*) FROM images").fetchone()[0]


@pytest.mark.parametrize("values, expected", [
    ([], []),
    ([None], []),
    ([5.0], [(5.0, 5.5, 1)]),
    ([4.2, 4.4, 5.6, None], [(4.0, 4.5, 2), (4.5, 5.0, 0), (5.0, 5.5, 0), (5.5, 6.0, 1)]),
    ([6.0, 6.5], [(6.0, 6.5, 1), (6.5, 7.0, 1)]),  # a value on an edge opens its bin
])
def test_histogram_bins_by_half_points(values, expected):
    bins = caption_stats.histogram(values)
    assert [(b["low"], b["high"], b["count"]) for b in bins] == expected


@pytest.mark.parametrize("low, high, runs", [(1, 10, 5), (1, 3, 5), (7, 7, 5), (1, 10**9, 200)])
def test_background_run_starts_are_distinct_and_in_range(low, high, runs):
    starts = lift.run_starts(low, high, runs)
    assert len(starts) == min(runs, high - low + 1)
    assert len(set(starts)) == len(starts)
    assert all(low <= start <= high for start in starts)
    assert starts == lift.run_starts(low, high, runs)  # the same every time


def test_background_of_a_periodic_dataset_sees_many_captions(tmp_path):
    # 10 distinct captions repeated: evenly spaced runs would all land on the same ones.
    captions = [f"word{i % 10} common" for i in range(2000)]
    db_path = build_db(tmp_path, [{"url": f"https://x.example/{i}", "caption": c}
                                  for i, c in enumerate(captions)])
    background = lift.background_counts(sqlite3.connect(db_path), size=200, run=5)
    assert not background["complete"]
    assert len([term for term in background["counts"] if term.startswith("word")]) == 10


def test_lift_estimates_common_counts_rare_exactly(tmp_path, monkeypatch):
    # 40 captions hold "photo"; "castle" comes with "medieval" (rare) in 3 of them.
    captions = ["castle medieval photo"] * 3 + ["cat photo"] * 37 + ["sky"] * 40
    db_path = build_db(tmp_path, [{"url": f"https://x.example/{i}", "caption": c}
                                  for i, c in enumerate(captions)])
    conn = sqlite3.connect(db_path)
    monkeypatch.setattr(lift, "BACKGROUND_MIN", 4)
    background = lift.background_counts(conn, size=20, run=1)  # 20 rows drawn at random
    assert background["size"] == 20
    assert not background["complete"]
    sample = [c for c in captions if "castle" in c]
    terms = {t["term"]: t for t in lift.terms_by_lift(conn, sample, ["castle"], 80, background)}
    assert (terms["medieval"]["overall"], terms["medieval"]["overall_exact"]) == (3, True)
    assert not terms["photo"]["overall_exact"]
    assert 20 <= terms["photo"]["overall"] <= 60  # an estimate of the true 40
    assert terms["medieval"]["lift"] == pytest.approx(80 / 3)


@pytest.mark.parametrize("with_term, kept", [
    (3, False),  # 3 of 400 sampled captions is under 1%
    (4, True),
])
def test_lift_drops_terms_under_one_percent(tmp_path, with_term, kept):
    sample = ["castle rare"] * with_term + ["castle"] * (400 - with_term)
    db_path = build_db(tmp_path, [{"url": f"https://x.example/{i}", "caption": c}
                                  for i, c in enumerate(sample)])
    conn = sqlite3.connect(db_path)
    background = lift.background_counts(conn)
    terms = lift.terms_by_lift(conn, sample, ["castle"], len(sample), background)
    assert ("rare" in [t["term"] for t in terms]) is kept


def test_background_with_id_gaps_is_complete(tmp_path):
    # Ids 1-30 with 10 removed: the span exceeds the size, the row count does not.
    db_path = build_db(tmp_path, [{"url": f"https://x.example/{i}", "caption": f"word{i}"} for i in range(30)])
    conn = sqlite3.connect(db_path)
    for image_id, caption in conn.execute("SELECT id, caption FROM images WHERE id % 3 = 0").fetchall():
        conn.execute("INSERT INTO images_fts(images_fts, rowid, caption) VALUES ('delete', ?, ?)",
                     (image_id, caption))
        conn.execute("DELETE FROM images WHERE id = ?", (image_id,))
    conn.commit()
    background = lift.background_counts(conn, size=25, run=5)
    assert background["complete"]
    assert background["size"] == 20
