"""Fixtures shared by the whole suite."""

import os
from pathlib import Path

import pytest

from tests.clip_fixtures import image_server, photo_corpus, tiny_clip, tiny_encoder  # noqa: F401


@pytest.fixture(scope="session")
def sample_path() -> Path:
    """Path of the real 10,000-row LAION sample named by LAIONLENS_SAMPLE; skips when unset."""
    value = os.environ.get("LAIONLENS_SAMPLE")
    if not value:
        pytest.skip("LAIONLENS_SAMPLE is not set: point it at laion-sample-10k.parquet to run this test")
    path = Path(value)
    if not path.is_file():
        pytest.fail(f"LAIONLENS_SAMPLE={value!r} does not name a file")
    return path


@pytest.fixture
def lens_datasette():
    """Return a factory: ``lens_datasette(db_path, plugin_config=None)`` gives a Datasette
    instance serving ``db_path`` with the LAION Lens plugins and metadata.yml."""
    from datasette.app import Datasette

    from laionlens.commands.serve import DEFAULT_METADATA, load_metadata
    from plugins import register_plugins

    register_plugins()

    def make(db_path, plugin_config=None, **settings):
        metadata = load_metadata(DEFAULT_METADATA, plugin_config or {})
        return Datasette([str(db_path)], metadata=metadata, settings=settings or None)

    return make


def pytest_collection_modifyitems(config, items):
    """Run the browser tests last, after every test that drives its own event loop."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
