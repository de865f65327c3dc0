"""The ``laionlens`` plugin configuration: defaults, and the one place it is read.

Set values in ``metadata.yml`` under ``plugins: laionlens:``. Anything not set there
takes the default below.
"""

import copy

PLUGIN_NAME = "laionlens"

DEFAULTS = {
    # Name of the Datasette database holding the images table; None means the first
    # attached database that has an ``images`` table.
    "database": None,
    # Thumbnails of rows whose punsafe is above this are hidden unless the viewer
    # adds ``_unsafe=1`` to the URL.
    "punsafe_threshold": 0.5,
    # Result counts are exact up to this many rows and shown as "more than N" beyond.
    "count_cap": 10000,
    # Time limit for that capped count, in milliseconds; past it no count is shown.
    "count_time_limit_ms": 1000,
    # Time limit for the domain facet of a search, in milliseconds.
    "facet_time_limit_ms": 500,
    "facet_size": 10,
    # The domain facet of a search or filter counts at most this many of its first
    # matches, so a common word costs no more than a rare one.
    "facet_sample": 1000,
    # Vector index (a .faiss file with its .json sidecar beside it); None disables
    # similarity search.
    "vector_index": None,
    # CLIP model: an open_clip architecture name plus either a pretrained tag or a
    # local checkpoint file.
    "clip_model": "ViT-B-32",
    "clip_pretrained": "laion2b_s34b_b79k",
    "clip_checkpoint": None,
    "clip_device": None,
    # Number of neighbours returned by similarity searches, by default and at most.
    "k_default": 20,
    "k_max": 200,
    # Fetching images by URL on behalf of a user.
    "allow_private_urls": False,
    "max_image_bytes": 10 * 1024 * 1024,
    "fetch_timeout_s": 10.0,
    # Folder of local copies of training images (named by row id or by URL hash),
    # used for perceptual-hash comparisons; None disables them.
    "images_dir": None,
    # A generated image whose best cosine similarity to a training image is at or
    # above this is reported as a possible near-copy. A heuristic, not a proof.
    "replication_threshold": 0.95,
    "generator": {
        # "automatic1111", "openai" or "none".
        "backend": "none",
        "base_url": None,
        # Name of the environment variable holding the API key (OpenAI-compatible
        # backends only); the key itself never appears in the configuration.
        "api_key_env": "LAIONLENS_GENERATOR_API_KEY",
        "model": None,
        "timeout_s": 120.0,
        "max_concurrent": 1,
    },
}


def merge_config(user_config: dict | None) -> dict:
    """Return DEFAULTS overlaid with ``user_config``; nested dicts merge key by key."""
    merged = copy.deepcopy(DEFAULTS)
    for key, value in (user_config or {}).items():
        if isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key].update(value)
        else:
            merged[key] = value
    return merged


def lens_config(datasette) -> dict:
    """Return the effective plugin configuration of a running Datasette instance."""
    return merge_config(datasette.plugin_config(PLUGIN_NAME))
