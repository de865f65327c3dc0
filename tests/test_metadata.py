"""The shipped metadata.yml: plugin configuration, table settings, descriptions."""

import sqlite3

import pytest
import yaml
from datasette.app import Datasette

from laionlens.commands.serve import DEFAULT_METADATA
from laionlens.config import DEFAULTS, lens_config
from laionlens.schema import create_tables
from plugins import register_plugins
from tests.search_fixtures import build_database, get

METADATA = yaml.safe_load(DEFAULT_METADATA.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def db_path(tmp_path_factory):
    rows = [{"URL": "https://example.com/a.jpg", "TEXT": "Tavern Brawl by velinov"}]
    return build_database(tmp_path_factory.mktemp("metadata"), rows, name="laion-part-7")


def schema_columns(table: str) -> list[str]:
    conn = sqlite3.connect(":memory:")
    create_tables(conn)
    return [row[1] for row in conn.execute(f"pragma table_info({table})")]


def test_metadata_yaml_plugin_config_reaches_lens_config():
    # Loaded exactly as `datasette --metadata metadata.yml` would load it, not through
    # our own loader, so a misplaced key would show up here as a default.
    ds = Datasette([], metadata=METADATA)
    config = lens_config(ds)
    assert config["punsafe_threshold"] == 0.5
    assert config["count_cap"] == 10_000
    assert config["facet_time_limit_ms"] == 500
    assert config["facet_size"] == 10
    assert ds.plugin_config("laionlens") == METADATA["plugins"]["laionlens"]


def test_metadata_yaml_plugin_keys_are_known():
    unknown = set(METADATA["plugins"]["laionlens"]) - set(DEFAULTS)
    assert not unknown, f"metadata.yml sets {unknown}, which laionlens.config does not read"
    assert set(METADATA["plugins"]) == {"laionlens"}
    assert "plugins" not in METADATA.get("databases", {})


@pytest.mark.parametrize("table", ["images", "domains"])
def test_metadata_describes_every_column(table):
    # A set, not a list: a database upgraded with ALTER TABLE has its new columns last.
    missing = set(schema_columns(table)) - set(METADATA["tables"][table]["columns"])
    assert not missing, f"metadata.yml does not describe {sorted(missing)}"


def test_metadata_source_and_licence():
    assert METADATA["license"].startswith("CC-BY 4.0")
    assert METADATA["license_url"] == "https://creativecommons.org/licenses/by/4.0/"
    assert METADATA["source_url"] == "https://laion.ai/"


def test_metadata_tables_apply_to_any_database_name(db_path, lens_datasette):
    ds = lens_datasette(db_path)
    name = "laion-part-7"
    assert ds.table_metadata(name, "images")["fts_table"] == "images_fts"
    assert ds.table_metadata(name, "images")["fts_pk"] == "id"
    label = get(ds, f"/{name}/images.json", _labels="on", _shape="array").json()[0]["domain_id"]
    assert label["label"] == "example.com"


def test_metadata_hides_internal_tables(db_path, lens_datasette):
    tables = {t["name"]: t["hidden"] for t in get(lens_datasette(db_path), "/laion-part-7.json").json()["tables"]}
    assert not tables["images"]
    assert not tables["domains"]
    hidden = {name for name, is_hidden in tables.items() if is_hidden}
    assert {"images_fts", "images_fts_data", "images_fts_idx", "lens_state"} <= hidden


def test_metadata_column_descriptions_on_table_page(db_path, lens_datasette):
    html = get(lens_datasette(db_path), "/laion-part-7/images").text
    assert "cosine similarity" in html.lower()
    assert "ViT-L/14" in html
    assert 'type="search" name="_search"' in html


def test_metadata_plain_datasette_ignores_top_level_tables(db_path):
    # Why plugins/table_metadata.py exists: without it Datasette 0.65 does not apply
    # the top-level tables block (no search box, no label column).
    register_plugins()
    from datasette.plugins import pm

    plugin = pm.unregister(name="plugins.table_metadata")
    try:
        ds = Datasette([str(db_path)], metadata=METADATA)
        assert ds.table_metadata("laion-part-7", "images") == {}
    finally:
        pm.register(plugin, name="plugins.table_metadata")
