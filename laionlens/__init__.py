"""LAION Lens: search the LAION image-caption metadata that image generators were trained on."""

__version__ = "0.1.0"
