"""The one CLIP encoder that both the ingest and the server use.

An encoder is an open_clip architecture name plus either a pretrained tag (weights
from the open_clip / Hugging Face cache) or a local checkpoint file. torch and
open_clip are imported inside the functions, so the search server starts without
them and only pays for them when a query needs a model.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger("laionlens.clip")

DEFAULT_MODEL = "ViT-B-32"
DEFAULT_PRETRAINED = "laion2b_s34b_b79k"


class ClipError(Exception):
    """Base class of the CLIP encoder's errors."""


class UnknownClipModel(ClipError):
    """The open_clip architecture name is not known."""


class ClipWeightsMissing(ClipError):
    """The weights for a model could not be found locally nor fetched."""


class ClipDependencyMissing(ClipError):
    """torch or open_clip is not installed."""


@dataclass
class ClipEncoder:
    """A loaded CLIP model with its preprocessing and tokenizer."""

    model_name: str
    pretrained: str | None
    checkpoint: str | None
    dim: int
    preprocess_id: str
    device: str
    model: object = field(repr=False)
    preprocess: object = field(repr=False)
    tokenizer: object = field(repr=False)
    # One forward pass at a time: torch models are not re-entrant across threads
    # and the server calls the encoder from a thread pool.
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def encode_images(self, images: list, batch_size: int = 32) -> np.ndarray:
        """Return float32 (n, dim) L2-normalised embeddings of PIL images."""
        import torch

        chunks = []
        for start in range(0, len(images), batch_size):
            batch = [self.preprocess(to_rgb(image)) for image in images[start:start + batch_size]]
            tensor = torch.stack(batch).to(self.device)
            with self.lock, torch.inference_mode():
                chunks.append(self.model.encode_image(tensor).float().cpu().numpy())
        return _normalised(chunks, self.dim)

    def encode_texts(self, texts: list[str], batch_size: int = 256) -> np.ndarray:
        """Return float32 (n, dim) L2-normalised embeddings of texts.

        Texts longer than the model's context (77 tokens for CLIP) are truncated, not rejected.
        """
        import torch

        chunks = []
        for start in range(0, len(texts), batch_size):
            tokens = self.tokenizer([str(text) for text in texts[start:start + batch_size]])
            with self.lock, torch.inference_mode():
                chunks.append(self.model.encode_text(tokens.to(self.device)).float().cpu().numpy())
        return _normalised(chunks, self.dim)


def _normalised(chunks: list[np.ndarray], dim: int) -> np.ndarray:
    if not chunks:
        return np.zeros((0, dim), dtype=np.float32)
    vectors = np.concatenate(chunks).astype(np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def to_rgb(image):
    """Return ``image`` as 8-bit RGB: RGBA and LA over white, palette, 16-bit, CMYK converted."""
    from PIL import Image

    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # Pillow's own I -> RGB conversion clips at 255 instead of scaling. 16-bit PNGs
        # may open as "I", so values above 255 mean the 16-bit range.
        array = np.asarray(image, dtype=np.float64)
        scale = 255.0 / 65535.0 if array.size and array.max() > 255 else 1.0
        return Image.fromarray(np.clip(np.rint(array * scale), 0, 255).astype(np.uint8)).convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


class UndecodableImage(ClipError, ValueError):
    """Bytes that Pillow cannot open as an image, or an image too large to decode safely."""


# Images above this many pixels are rejected before decoding (a decompression bomb
# is a small file that decodes to gigabytes).
MAX_IMAGE_PIXELS = 50_000_000


def decode_image(data: bytes, name: str = "image", max_pixels: int = MAX_IMAGE_PIXELS):
    """Open and fully decode ``data`` as an RGB PIL image; raise UndecodableImage if it fails."""
    import io
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise UndecodableImage(
                    f"{name} is {width}x{height} pixels, over the limit of {max_pixels:,} pixels"
                )
            image.load()
    except UndecodableImage:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as error:
        raise UndecodableImage(f"{name} is not an image Pillow can decode: {error}") from error
    return to_rgb(image)


def _import_open_clip():
    try:
        import open_clip
        import torch  # noqa: F401
    except ImportError as error:
        raise ClipDependencyMissing(
            f"CLIP needs torch and open_clip, which are not installed ({error}). "
            "Install them with: pip install -e '.[clip]'"
        ) from error
    return open_clip


def _pick_device(device: str | None) -> str:
    import torch

    if device:
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def _register_config_file(open_clip, model_name: str) -> str:
    """Let ``model_name`` be a path to an open_clip model config JSON; return the name."""
    path = Path(model_name)
    if model_name.endswith(".json") and path.is_file():
        open_clip.add_model_config(str(path))
        return path.stem
    return model_name


def hub_cache_dir() -> str:
    """The folder where open_clip looks for (and would download) pretrained weights."""
    try:
        from huggingface_hub import constants

        return str(constants.HF_HUB_CACHE)
    except ImportError:
        return os.path.expanduser("~/.cache/huggingface/hub")


def _weights_missing(model_name: str, pretrained: str, error: Exception) -> ClipWeightsMissing:
    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
    return ClipWeightsMissing(
        f"No weights for CLIP model {model_name!r} with pretrained tag {pretrained!r}: "
        f"they are not in the cache folder {hub_cache_dir()!r} and could not be "
        f"downloaded ({'HF_HUB_OFFLINE is set' if offline else 'hub unreachable'}: {error}). "
        "Either pass a local checkpoint file with --clip-checkpoint FILE "
        "(clip_checkpoint in metadata.yml), or fill the cache on a machine with network "
        "access and run with HF_HUB_OFFLINE=1."
    )


def _create(open_clip, model_name: str, pretrained: str | None, checkpoint: str | None, device: str):
    if model_name not in open_clip.list_models():
        raise UnknownClipModel(
            f"Unknown CLIP model {model_name!r}. Known models: {', '.join(open_clip.list_models())}. "
            "A custom architecture can be given as the path of an open_clip config JSON."
        )
    if checkpoint is not None and not Path(checkpoint).is_file():
        raise ClipWeightsMissing(
            f"CLIP checkpoint {checkpoint!r} does not exist. Pass an existing file with "
            "--clip-checkpoint FILE (clip_checkpoint in metadata.yml)."
        )
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            model_name, pretrained=checkpoint or pretrained, device=device
        )
    except RuntimeError as error:
        if checkpoint is None and pretrained and "not a known tag" in str(error):
            tags = [tag for name, tag in open_clip.list_pretrained() if name == model_name]
            raise UnknownClipModel(
                f"Unknown pretrained tag {pretrained!r} for CLIP model {model_name!r}. "
                f"Known tags: {', '.join(tags) or 'none'}."
            ) from error
        if checkpoint is None and pretrained:
            raise _weights_missing(model_name, pretrained, error) from error
        raise
    return model, preprocess


def _preprocess_id(model) -> str:
    """A short, stable description of the image preprocessing, recorded with each index."""
    cfg = dict(getattr(model.visual, "preprocess_cfg", {}) or {})
    size = cfg.get("size", getattr(model.visual, "image_size", "?"))
    if isinstance(size, (list, tuple)):
        size = "x".join(str(s) for s in size)
    mean = ",".join(f"{v:.4f}" for v in cfg.get("mean", ()))
    std = ",".join(f"{v:.4f}" for v in cfg.get("std", ()))
    return (
        f"{size}px-{cfg.get('resize_mode', 'shortest')}-{cfg.get('interpolation', 'bicubic')}"
        f"-mean{mean}-std{std}"
    )


def load_encoder(
    model_name: str = DEFAULT_MODEL,
    pretrained: str | None = DEFAULT_PRETRAINED,
    checkpoint: str | None = None,
    device: str | None = None,
) -> ClipEncoder:
    """Load an open_clip model from a pretrained tag or a local checkpoint (which wins)."""
    open_clip = _import_open_clip()
    model_name = _register_config_file(open_clip, str(model_name))
    device = _pick_device(device)
    checkpoint = str(checkpoint) if checkpoint else None
    log.info("loading CLIP %s (%s) on %s", model_name, checkpoint or pretrained, device)
    model, preprocess = _create(open_clip, model_name, pretrained, checkpoint, device)
    model.eval()
    dim = int(open_clip.get_model_config(model_name)["embed_dim"])
    return ClipEncoder(
        model_name=model_name,
        pretrained=None if checkpoint else pretrained,
        checkpoint=checkpoint,
        dim=dim,
        preprocess_id=_preprocess_id(model),
        device=device,
        model=model,
        preprocess=preprocess,
        tokenizer=open_clip.get_tokenizer(model_name),
    )


@functools.lru_cache(maxsize=4)
def _cached_encoder(model_name, pretrained, checkpoint, device) -> ClipEncoder:
    return load_encoder(model_name, pretrained, checkpoint, device)


_cache_lock = threading.Lock()


def encoder_from_config(config: dict) -> ClipEncoder:
    """Return the (cached) encoder named by the ``clip_*`` keys of the plugin configuration."""
    key = (
        config.get("clip_model") or DEFAULT_MODEL,
        config.get("clip_pretrained"),
        config.get("clip_checkpoint"),
        config.get("clip_device"),
    )
    # Two first requests arriving together must not load the model twice.
    with _cache_lock:
        return _cached_encoder(*key)
