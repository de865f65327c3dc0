"""Caption text as it is written to the full-text index, checked against a real FTS5 table."""

import sqlite3

import pytest

from laionlens.schema import create_tables
from laionlens.text import fts_text, literal_query

CAPTIONS = [
    "Αρχείου φωτογραφία της Αθήνας",  # 1: Greek with tonos and a final sigma
    "Dvořák concert poster",  # 2
    "東京タワーの夜景",  # 3: Japanese, no spaces
    "red t-shirt",  # 4
    "before\x00after",  # 5: a NUL byte inside a caption
]


@pytest.fixture
def conn():
    conn = sqlite3.connect(":memory:")
    create_tables(conn)
    for rowid, caption in enumerate(CAPTIONS, start=1):
        conn.execute("INSERT INTO images_fts(rowid, caption) VALUES (?, ?)", (rowid, fts_text(caption)))
    return conn


def matches(conn, text):
    query = literal_query(text)
    return [row[0] for row in conn.execute(
        "SELECT rowid FROM images_fts WHERE images_fts MATCH ? ORDER BY rowid", (query,))]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Αρχείου", [1]),
        ("αρχειου", [1]),  # without the tonos
        ("ΑΡΧΕΙΟΥ", [1]),  # capitals carry no tonos
        ("φωτογραφια", [1]),
        ("ΑΘΗΝΑΣ", [1]),  # capital sigma against the caption's final sigma
        ("Dvorak", [2]),
        ("DVOŘÁK", [2]),
        ("東京", [3]),
        ("夜景", [3]),
        ("t-shirt", [4]),
        ("after", [5]),  # indexed although it follows a NUL
        ("a\x00fter", []),  # a NUL in a query splits the word instead of cutting the query
    ],
)
def test_fts_text_matches(conn, text, expected):
    assert matches(conn, text) == expected


def test_fts_text_deterministic_for_delete(conn):
    # Deleting from a contentless table needs the same text that was indexed.
    for rowid, caption in enumerate(CAPTIONS, start=1):
        conn.execute("INSERT INTO images_fts(images_fts, rowid, caption) VALUES ('delete', ?, ?)",
                     (rowid, fts_text(caption)))
    conn.execute("INSERT INTO images_fts(images_fts, rank) VALUES ('integrity-check', 0)")
    assert conn.execute("SELECT count(*) FROM images_fts").fetchone()[0] == 0


def test_literal_query_blank_is_none():
    assert literal_query("   ") is None
    assert literal_query("\x00") is None
