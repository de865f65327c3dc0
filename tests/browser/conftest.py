"""Fixtures for the browser tests: a real ``laionlens serve``, a local image server and
Debian's headless Chromium driven by Playwright.

Nothing leaves 127.0.0.1: image URLs in the test database point at a static server
started here, serving photos bundled with scikit-image, and every request to another
host is aborted. Chromium is the system one (``/usr/bin/chromium``); the tests never
download a browser. Without it they skip, unless LAIONLENS_REQUIRE_BROWSER=1, as in
CI, where a missing browser is a failure.
"""

import functools
import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import urlopen

import pytest

from tests.browser.corpus import corpus_rows

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "camera", "coins", "horse", "moon")


def chromium_path() -> str | None:
    """Return Debian's Chromium (or LAIONLENS_CHROMIUM), or None when it is not installed."""
    configured = os.environ.get("LAIONLENS_CHROMIUM")
    if configured:
        if not Path(configured).is_file():
            pytest.fail(f"LAIONLENS_CHROMIUM={configured!r} does not exist; unset it or "
                        "point it at a Chromium executable")
        return configured
    found = shutil.which("chromium")
    if found is None and Path("/usr/bin/chromium").is_file():
        found = "/usr/bin/chromium"
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process=None, timeout: float = 30.0) -> None:
    """Poll ``url`` until it responds, failing early if ``process`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with code {process.returncode} before {url} answered")
        try:
            with urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    path = chromium_path()
    if path is None:
        message = ("Chromium not found: install Debian's chromium package "
                   "(apt-get install chromium) to run the browser tests")
        if os.environ.get("LAIONLENS_REQUIRE_BROWSER") == "1":
            pytest.fail(message + " (LAIONLENS_REQUIRE_BROWSER=1 makes this an error)")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def image_server(tmp_path_factory) -> str:
    """Serve JPEG copies of scikit-image's bundled photos on 127.0.0.1; return the base URL."""
    import skimage.data
    from PIL import Image

    folder = tmp_path_factory.mktemp("photos")
    bundled = Path(skimage.data.__file__).parent
    for name in PHOTOS:
        source = next(bundled.glob(f"{name}.*"))
        Image.open(source).convert("RGB").resize((240, 240)).save(folder / f"{name}.jpg")
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="session")
def lens_db(tmp_path_factory, image_server) -> Path:
    from tests.lens_pages_db import build_db

    return build_db(tmp_path_factory.mktemp("lensdb"), corpus_rows(image_server, PHOTOS))


@pytest.fixture(scope="session")
def lens_index(lens_db) -> Path:
    """A FAISS index over the test rows whose vectors cluster by photo, so that the
    neighbours of a cat photo are the other cat photos."""
    import numpy as np

    from laionlens.vectors import build_index

    rng = np.random.default_rng(3)
    centres = {photo: rng.normal(size=32) for photo in PHOTOS}
    drift = rng.normal(size=32)
    rows = corpus_rows("http://127.0.0.1", PHOTOS)
    vectors = [centres[row["url"].rsplit("/", 1)[1].split(".")[0]] + 0.05 * number * drift
               for number, row in enumerate(rows)]
    path = lens_db.parent / "lens.faiss"
    build_index(path, np.arange(1, len(rows) + 1), np.array(vectors), model_name="ViT-B-32",
                pretrained="laion2b_s34b_b79k", checkpoint=None, preprocess_id="test")
    return path


@pytest.fixture(scope="session")
def lens_server(lens_db, lens_index, tmp_path_factory) -> str:
    """Run ``laionlens serve`` over the test database and index; return its base URL."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("serve") / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "laionlens", "serve", "--db", str(lens_db), "--port", str(port),
             "--index", str(lens_index)],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base + "/-/versions.json", process)
    except RuntimeError as error:
        process.kill()
        pytest.fail(f"{error}\n{log_path.read_text(errors='replace')[-3000:]}")
    yield base
    process.terminate()
    process.wait(timeout=10)


# Module scope, not session: while sync_playwright() is open it keeps an event loop
# running in the main thread, and every later test that calls asyncio.run() fails.
@pytest.fixture(scope="module")
def browser(chromium_executable):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def only_local(route) -> None:
    if urlsplit(route.request.url).hostname == "127.0.0.1":
        route.continue_()
    else:
        route.abort()


@pytest.fixture
def page(browser, request):
    """A fresh page that can reach 127.0.0.1 only; saves a screenshot if the test fails
    (or always, with LAIONLENS_SCREENSHOTS=1)."""
    context = browser.new_context(accept_downloads=True, viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.route("**/*", only_local)
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and (report.failed or os.environ.get("LAIONLENS_SCREENSHOTS") == "1"):
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
