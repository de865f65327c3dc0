"""The pages a person uses, driven in headless Chromium against a real ``laionlens serve``."""

import csv
import re

import pytest

from tests.browser.corpus import CAPTIONS, NAME, captions_with

pytestmark = pytest.mark.browser


def loaded_images(page) -> int:
    """Number of <img> in the grid that finished loading with real pixels."""
    return page.eval_on_selector_all(
        ".lens-grid img", "imgs => imgs.filter(i => i.complete && i.naturalWidth > 0).length")


def test_grid_search_shows_thumbnails_of_every_match(page, lens_server):
    page.goto(f"{lens_server}/-/grid?q=cat")
    tiles = page.locator(".lens-tile")
    assert tiles.count() == len(captions_with("cat"))
    page.wait_for_function("document.querySelector('.lens-grid img').naturalWidth > 0")
    assert loaded_images(page) >= 1
    titles = [tiles.nth(i).get_attribute("title") for i in range(tiles.count())]
    assert all("cat" in title.lower() for title in titles)


def test_grid_keyboard_navigation_opens_row(page, lens_server):
    page.goto(f"{lens_server}/-/grid?q=cat")
    tiles = page.locator(".lens-tile")
    ids = [tiles.nth(i).get_attribute("data-id") for i in range(tiles.count())]
    tiles.first.focus()
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.dataset.id") == ids[1]
    columns = page.evaluate(
        "[...document.querySelectorAll('.lens-tile')].filter("
        "t => t.getBoundingClientRect().top === document.querySelector('.lens-tile')"
        ".getBoundingClientRect().top).length")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.id") == ids[min(columns, len(ids) - 1)]
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/lens/images/\d+$"))
    opened = page.url.rsplit("/", 1)[1]
    assert opened == ids[min(columns, len(ids) - 1)]
    assert CAPTIONS[int(opened) - 1][0] in page.content()


def test_grid_hides_unsafe_thumbnails_until_asked(page, lens_server):
    page.goto(f"{lens_server}/-/grid?q=rutkowski")
    expected = len(captions_with("rutkowski"))
    assert page.locator(".lens-tile").count() == expected
    assert page.locator(".lens-hidden").count() == 1
    assert page.locator(".lens-grid img").count() == expected - 1
    page.get_by_role("link", name="Show them").click()
    page.wait_for_url(re.compile(r"_unsafe=1"))
    assert page.locator(".lens-hidden").count() == 0
    assert page.locator(".lens-grid img").count() == expected


def test_grid_filter_form_keeps_only_high_aesthetic_rows(page, lens_server):
    page.goto(f"{lens_server}/-/grid?q=cat")
    page.get_by_label("Aesthetic at least").fill("5.5")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r"aesthetic_min=5.5"))
    expected = [c for c, _, score, _ in CAPTIONS if score >= 5.5 and c in captions_with("cat")]
    assert sorted(page.locator(".lens-tile").evaluate_all("ts => ts.map(t => t.title)")) == sorted(expected)


def test_grid_bad_filter_is_400(page, lens_server):
    response = page.goto(f"{lens_server}/-/grid?aesthetic_min=high")
    assert response.status == 400
    assert "aesthetic_min='high' is not a number" in page.inner_text("body")


def test_grid_pages_with_next_link(page, lens_server):
    page.goto(f"{lens_server}/-/grid?_size=10")
    first = page.locator(".lens-tile").evaluate_all("ts => ts.map(t => t.dataset.id)")
    page.get_by_role("link", name="Next page").click()
    second = page.locator(".lens-tile").evaluate_all("ts => ts.map(t => t.dataset.id)")
    assert len(first) == 10
    assert second
    assert not set(first) & set(second)
    assert int(max(second)) < int(min(first))


def test_search_on_the_images_table_finds_captions(page, lens_server):
    page.goto(f"{lens_server}/lens/images?_search=dog")
    page.wait_for_selector("table.rows-and-columns")
    body = page.inner_text("table.rows-and-columns")
    for caption in captions_with("dog"):
        assert caption in body
    assert "A cup of coffee on a wooden table" not in body


def test_name_report_counts_and_exports_every_match(page, lens_server, tmp_path):
    page.goto(f"{lens_server}/-/name")
    page.get_by_label("Name").fill(NAME)
    page.get_by_role("button", name="Report").click()
    expected = captions_with(NAME)
    assert f"{len(expected)} captions mention" in page.inner_text(".lens-count")
    assert page.locator("svg.lens-histogram rect").count() >= 2
    assert page.locator(".lens-tile").count() == len(expected)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="CSV").click()
    download = download_info.value
    assert download.suggested_filename == "laion-captions-greg-rutkowski.csv"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    with open(saved, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["caption"] for row in rows) == sorted(expected)
    assert all(row["url"].startswith("http://127.0.0.1:") and row["domain"] for row in rows)


def test_keyword_explorer_compares_two_terms(page, lens_server):
    page.goto(f"{lens_server}/-/keywords?q=cat")
    page.get_by_label("Compare with").fill("dog")
    page.get_by_role("button", name="Explore").click()
    page.wait_for_url(re.compile(r"vs=dog"))
    sections = page.locator("section.lens-keyword")
    assert sections.count() == 2
    cats, dogs = captions_with("cat"), captions_with("dog")
    assert f"{len(cats)} captions" in sections.nth(0).inner_text()
    assert f"{len(dogs)} captions" in sections.nth(1).inner_text()
    both = len(set(cats) & set(dogs))
    assert f"Captions with both: {both}" in page.inner_text("body")
    assert "sample of the" in sections.nth(0).inner_text()


def test_grid_of_similar_images_shows_the_nearest_photos(page, lens_server):
    cat_row = 1 + [c for c, _, _, _ in CAPTIONS].index("A ginger cat sleeping on a sofa")
    page.goto(f"{lens_server}/-/grid?similar={cat_row}&_size=5")
    assert page.locator("h1").inner_text() == f"Images similar to row {cat_row}"
    sources = page.locator(".lens-grid img").evaluate_all("imgs => imgs.map(i => i.src)")
    assert len(sources) == 5 and all("/chelsea.jpg" in src for src in sources)
    assert "similarity" in page.locator(".lens-score").first.inner_text()
    page.wait_for_function("document.querySelector('.lens-grid img').naturalWidth > 0")


def test_row_page_links_to_similar_images(page, lens_server):
    page.goto(f"{lens_server}/lens/images/1")
    link = page.get_by_role("link", name=re.compile("similar", re.IGNORECASE))
    assert link.count() > 0, "the row page has no 'similar images' link"
    with page.expect_navigation() as navigation:
        link.first.click()
    assert navigation.value.status == 200
    assert page.locator("img").count() > 0, "the similar-images page shows no image"


def test_menu_leads_to_the_keyword_explorer(page, lens_server):
    page.goto(f"{lens_server}/")
    page.locator("details.nav-menu summary").click()
    page.locator("details.nav-menu").get_by_role("link", name="Keyword explorer").click()
    page.wait_for_url(re.compile(r"/-/keywords$"))
    page.get_by_label("Keyword").fill("coffee")
    page.get_by_role("button", name="Explore").click()
    assert f"{len(captions_with('coffee'))} captions" in page.inner_text("section.lens-keyword")
