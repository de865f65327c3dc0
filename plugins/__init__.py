"""Datasette plugins of LAION Lens, one user-facing capability per module.

They are not registered through a ``datasette`` entry point, so a plain
``datasette`` command in the same environment stays a plain Datasette (the
benchmarks compare against it). ``laionlens serve`` and the tests call
:func:`register_plugins` instead.
"""

import importlib

from datasette.plugins import pm

PLUGIN_MODULES = (
    "plugins.search",
    "plugins.table_metadata",
    "plugins.counts",
    "plugins.arguments",
    "plugins.render",
    "plugins.facets",
    "plugins.removed",
    "plugins.similar",
    "plugins.generate",
    "plugins.compare",
    "plugins.generations",
    "plugins.name_report",
    "plugins.keywords",
    "plugins.grid",
)


def register_plugins() -> None:
    """Register every LAION Lens plugin module with Datasette's plugin manager, once."""
    # Datasette 0.65 looks for templates/ and static/ beside a plugin with
    # importlib.resources.files(module), which raises TypeError for a plain module on
    # Python 3.11, so it would find neither for "plugins.grid". Registering the package
    # itself (no hooks) makes it serve plugins/templates and /-/static-plugins/plugins/.
    if pm.get_plugin("plugins") is None:
        pm.register(importlib.import_module("plugins"), name="plugins")
    for name in PLUGIN_MODULES:
        if pm.get_plugin(name) is None:
            pm.register(importlib.import_module(name), name=name)
    # plugins.search carries Datasette's other default filters plus its own search.
    importlib.import_module("plugins.search").replace_default_search(pm)
