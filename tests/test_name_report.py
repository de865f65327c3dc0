"""The name report (/-/name) and its streamed export (/-/name/export.csv, .json)."""

import asyncio
import csv
import io
import json

import pytest

from ingest.remove import remove_by_urls
from plugins import name_export
from tests.lens_pages_db import build_db

ROWS = [
    {"url": "https://art.example/1.jpg", "caption": "Castle at dusk by Greg Rutkowski", "aesthetic": 6.9},
    {"url": "https://art.example/2.jpg", "caption": "greg rutkowski, dragon, fantasy", "aesthetic": 6.1},
    {"url": "https://shop.example/3.jpg", "caption": "Poster: Greg Rutkowski dragon print", "aesthetic": 5.2},
    {"url": "https://shop.example/4.jpg", "caption": "Greg and Anna Rutkowski wedding", "aesthetic": 4.0},
    {"url": "https://blog.example/5.jpg", "caption": "A dragon by GREG RUTKOWSKI", "aesthetic": None},
    {"url": "https://blog.example/6.jpg", "caption": "Dragon sketch, pencil", "aesthetic": 4.4},
]
# Rows 1, 2, 3 and 5 hold the phrase; row 4 has both words, apart, so it does not count.
PHRASE_IDS = [1, 2, 3, 5]


@pytest.fixture
def db_path(tmp_path):
    return build_db(tmp_path, ROWS)


def get(lens_datasette, db_path, path):
    return asyncio.run(lens_datasette(db_path).client.get(path))


def test_name_report_counts_phrase_only(lens_datasette, db_path):
    response = get(lens_datasette, db_path, "/-/name.json?name=Greg+Rutkowski")
    assert response.status_code == 200
    data = response.json()
    assert data["count"] == len(PHRASE_IDS)
    assert data["sample_size"] == len(PHRASE_IDS)
    assert data["sample_is_all"]
    assert data["dataset_rows"] == len(ROWS)
    assert sorted(item["id"] for item in data["examples"]) == PHRASE_IDS


def test_name_report_lists_domains_words_and_score_spread(lens_datasette, db_path):
    data = (get(lens_datasette, db_path, "/-/name.json?name=greg+rutkowski")).json()
    assert data["domains"][0] == {"domain": "art.example", "count": 2}
    assert {row["domain"] for row in data["domains"]} == {"art.example", "shop.example", "blog.example"}
    words = {row["term"]: row["count"] for row in data["words"]}
    assert words["dragon"] == 3
    assert "greg" not in words  # the name itself
    assert "by" not in words  # a stopword
    assert sum(b["count"] for b in data["aesthetic_histogram"]) == 3
    assert data["aesthetic_missing"] == 1


def test_name_report_html_shows_count_and_exports(lens_datasette, db_path):
    response = get(lens_datasette, db_path, "/-/name?name=Greg+Rutkowski")
    html = response.text
    assert response.status_code == 200
    assert "<strong>4</strong> captions mention" in html
    assert "cover all 4 matching captions" in html
    assert 'href="/-/name/export.csv?name=Greg+Rutkowski"' in html
    assert "<svg" in html
    assert 'loading="lazy"' in html


def test_name_report_flags_sampled_figures(db_path):
    import sqlite3

    from plugins.name_report import build_report

    report = build_report(sqlite3.connect(db_path), "Greg Rutkowski", sample_size=2)
    assert report["count"] == 4
    assert report["sample_size"] == 2
    assert not report["sample_is_all"]


@pytest.mark.parametrize("query, message", [
    ("name=%28", "has no letters or digits"),  # "(" alone can match nothing
    ("name=%22%22", "has no letters or digits"),
    ("", "Parameter 'name' is required"),
])
def test_name_report_bad_name_is_a_400(lens_datasette, db_path, query, message):
    response = get(lens_datasette, db_path, f"/-/name.json?{query}")
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_name_report_without_a_name_shows_the_form(lens_datasette, db_path):
    response = get(lens_datasette, db_path, "/-/name")
    assert response.status_code == 200
    assert 'name="name"' in response.text
    assert "opt-out" in response.text


@pytest.mark.parametrize("chunk_rows", [1, 2, 1000])
def test_name_export_csv_streams_every_match_in_chunks(lens_datasette, db_path, monkeypatch, chunk_rows):
    monkeypatch.setattr(name_export, "CHUNK_ROWS", chunk_rows)
    response = get(lens_datasette, db_path, "/-/name/export.csv?name=Greg+Rutkowski")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == (
        'attachment; filename="laion-captions-greg-rutkowski.csv"; '
        "filename*=UTF-8''laion-captions-greg-rutkowski.csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [int(row["id"]) for row in rows] == PHRASE_IDS
    assert rows[0] == {"id": "1", "url": ROWS[0]["url"], "caption": ROWS[0]["caption"],
                       "domain": "art.example"}


@pytest.mark.parametrize("chunk_rows", [1, 3])
def test_name_export_json_is_one_valid_array(lens_datasette, db_path, monkeypatch, chunk_rows):
    monkeypatch.setattr(name_export, "CHUNK_ROWS", chunk_rows)
    response = get(lens_datasette, db_path, "/-/name/export.json?name=Greg+Rutkowski")
    rows = json.loads(response.text)
    assert [row["id"] for row in rows] == PHRASE_IDS
    assert set(rows[0]) == {"id", "url", "caption", "domain"}


def test_name_export_without_matches_is_empty(lens_datasette, db_path):
    response = get(lens_datasette, db_path, "/-/name/export.json?name=Nobody+Here")
    assert json.loads(response.text) == []


def test_name_report_and_export_leave_out_removed_rows(lens_datasette, db_path, tmp_path):
    urls = tmp_path / "urls.txt"
    urls.write_text(ROWS[1]["url"] + "\n")
    remove_by_urls(db_path, urls, "opt-out")
    data = (get(lens_datasette, db_path, "/-/name.json?name=Greg+Rutkowski")).json()
    assert data["count"] == len(PHRASE_IDS) - 1
    exported = (get(lens_datasette, db_path, "/-/name/export.csv?name=Greg+Rutkowski")).text
    assert ROWS[1]["url"] not in exported
    assert len(list(csv.DictReader(io.StringIO(exported)))) == len(PHRASE_IDS) - 1


def test_name_report_hides_unsafe_examples_until_asked(lens_datasette, tmp_path):
    rows = [dict(ROWS[0], punsafe=0.99), ROWS[1]]
    db_path = build_db(tmp_path, rows)
    html = get(lens_datasette, db_path, "/-/name?name=Greg+Rutkowski").text
    assert rows[0]["url"] not in html
    assert 'href="/-/name?name=Greg+Rutkowski&amp;_unsafe=1">Show them</a>' in html
    shown = get(lens_datasette, db_path, "/-/name?name=Greg+Rutkowski&_unsafe=1").text
    assert f'src="{rows[0]["url"]}"' in shown


def test_name_export_csv_defuses_formula_captions(lens_datasette, tmp_path):
    rows = [
        {"url": "https://art.example/f.jpg", "caption": "=HYPERLINK(\"x\") by Greg Rutkowski",
         "aesthetic": 5.0},
        {"url": "https://art.example/g.jpg", "caption": "-dragon by Greg Rutkowski", "aesthetic": 5.0},
    ]
    path = build_db(tmp_path, rows)
    csv_rows = list(csv.DictReader(io.StringIO(
        get(lens_datasette, path, "/-/name/export.csv?name=Greg+Rutkowski").text)))
    assert [row["caption"] for row in csv_rows] == ["'" + rows[0]["caption"], "'" + rows[1]["caption"]]
    # The JSON export keeps the exact text.
    json_rows = json.loads(get(lens_datasette, path, "/-/name/export.json?name=Greg+Rutkowski").text)
    assert [row["caption"] for row in json_rows] == [rows[0]["caption"], rows[1]["caption"]]


@pytest.mark.parametrize("name, stem", [
    ('Dvořák "quoted" name', "laion-captions-dvorak-quoted-name"),
    ("Zoë Crème", "laion-captions-zoe-creme"),
    ("桜", "laion-captions-name"),
])
def test_name_export_file_stem_drops_accents(name, stem):
    assert name_export.file_stem(name) == stem


def test_name_export_header_keeps_original_name():
    header = name_export.content_disposition('Dvořák "quoted"/name', "csv")
    assert header == ('attachment; filename="laion-captions-dvorak-quoted-name.csv"; '
                      "filename*=UTF-8''laion-captions-dvo%C5%99%C3%A1k-quoted-name.csv")
