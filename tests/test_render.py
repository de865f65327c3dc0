"""Thumbnails, unsafe-thumbnail hiding and score formatting on the images pages."""

import re

import pytest

from tests.search_fixtures import build_database, get

ROWS = [
    {"URL": "https://example.com/safe.jpg", "TEXT": "a safe cat", "punsafe": 0.1234, "similarity": 0.31234},
    {"URL": "https://example.com/unsafe.jpg", "TEXT": "an unsafe cat", "punsafe": 0.8771},
    {"URL": "https://example.com/border.jpg", "TEXT": "a border cat", "punsafe": 0.5},  # not above 0.5
    {"URL": "https://example.com/unknown.jpg", "TEXT": "an unrated cat", "punsafe": None},
    {"URL": 'https://example.com/q.jpg?a="><script>alert(1)</script>', "TEXT": "<b>bold</b> cat"},
    {"URL": "javascript:alert(1)", "TEXT": "a script cat"},
]


@pytest.fixture(scope="module")
def db_path(tmp_path_factory):
    return build_database(tmp_path_factory.mktemp("render"), ROWS)


@pytest.fixture
def ds(db_path, lens_datasette):
    return lens_datasette(db_path)


def thumbnails(html: str) -> list[str]:
    return re.findall(r'<img src="([^"]*)" loading="lazy"', html)


def test_render_thumbnail_is_lazy_and_linked(ds):
    html = get(ds, "/lens/images", _search="safe").text
    assert ('<a href="https://example.com/safe.jpg" class="lens-thumb"><img '
            'src="https://example.com/safe.jpg" loading="lazy"') in html


def test_render_unsafe_thumbnails_hidden_by_default(ds):
    html = get(ds, "/lens/images").text
    visible = thumbnails(html)
    assert "https://example.com/unsafe.jpg" not in visible
    assert {"https://example.com/safe.jpg", "https://example.com/border.jpg",
            "https://example.com/unknown.jpg"} <= set(visible)
    assert "Thumbnail hidden: punsafe 0.877 is above 0.5." in html
    assert 'href="https://example.com/unsafe.jpg"' in html  # the link itself stays
    assert re.search(r'<a href="[^"]*_unsafe=1">show unsafe thumbnails</a>', html)


def test_render_unsafe_shown_on_request(ds):
    html = get(ds, "/lens/images", _unsafe="1").text
    assert "https://example.com/unsafe.jpg" in thumbnails(html)
    assert "Thumbnail hidden" not in html
    assert "Hide unsafe thumbnails" in html


def test_render_threshold_comes_from_config(db_path, lens_datasette):
    ds = lens_datasette(db_path, {"punsafe_threshold": 0.9})
    assert "https://example.com/unsafe.jpg" in thumbnails(get(ds, "/lens/images").text)
    ds = lens_datasette(db_path, {"punsafe_threshold": 0.1})
    assert thumbnails(get(ds, "/lens/images", _search="safe").text) == []


def test_render_unsafe_hidden_when_punsafe_not_selected(ds):
    html = get(ds, "/lens/images", _col="url").text
    assert "https://example.com/unsafe.jpg" not in thumbnails(html)
    assert "https://example.com/safe.jpg" in thumbnails(html)


def test_render_row_page_hides_unsafe(ds):
    html = get(ds, "/lens/images/2").text
    assert thumbnails(html) == []
    assert "show unsafe thumbnails" in html
    assert thumbnails(get(ds, "/lens/images/2", _unsafe="1").text) == ["https://example.com/unsafe.jpg"]


def test_render_scores_three_decimals_in_html_only(ds):
    html = get(ds, "/lens/images", _search="safe").text
    assert '<td class="col-punsafe type-float">0.123</td>' in html
    assert '<td class="col-similarity type-float">0.312</td>' in html
    row = get(ds, "/lens/images.json", _search="safe", _shape="array").json()[0]
    assert row["punsafe"] == 0.1234
    assert row["similarity"] == 0.31234


def test_render_escapes_urls_and_captions(ds):
    html = get(ds, "/lens/images").text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>bold</b>" not in html


def test_render_non_web_url_is_text_only(ds):
    html = get(ds, "/lens/images", _search="script").text
    assert 'href="javascript:' not in html
    assert 'src="javascript:' not in html
    assert "javascript:alert(1)" in html


@pytest.mark.parametrize("value, shown", [("1", True), ("true", True), ("Yes", True), ("on", True),
                                          ("0", False), ("false", False), ("", False)])
def test_render_unsafe_accepts_truthy_values(ds, value, shown):
    for path in ("/lens/images", "/lens/images/2"):
        html = get(ds, path, _unsafe=value).text
        assert ("https://example.com/unsafe.jpg" in thumbnails(html)) is shown
        assert ("Hide unsafe thumbnails" in html) is shown
