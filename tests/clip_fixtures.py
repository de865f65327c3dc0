"""A tiny open_clip model with random weights, saved as a checkpoint, for the CLIP tests.

The model is registered from a config JSON and loaded from its checkpoint file
through the same code path as a user's real checkpoint (``--clip-checkpoint``).
Nothing is ever downloaded.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

# A 2-layer ViT on 64-pixel images with 16-pixel patches and a 2-layer text
# transformer with CLIP's tokenizer and context, embedding into 32 dimensions.
# With random weights, a class token makes every image embed almost alike (mean
# cosine 0.9); average pooling of the patch tokens keeps them apart (about 0.05).
TINY_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "head_width": 32, "patch_size": 16,
                   "pool_type": "avg"},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}
TINY_NAME = "LensTinyCLIP"


@dataclass(frozen=True)
class TinyClip:
    config_path: str  # pass as clip_model / --clip-model
    checkpoint: str  # pass as clip_checkpoint / --clip-checkpoint
    model_name: str = TINY_NAME

    @property
    def plugin_config(self) -> dict:
        """The ``clip_*`` plugin settings that select this model."""
        return {"clip_model": self.config_path, "clip_checkpoint": self.checkpoint,
                "clip_pretrained": None}


def make_tiny_checkpoint(folder: Path, seed: int = 0) -> TinyClip:
    """Write the tiny model's config and a random-weight checkpoint into ``folder``."""
    import open_clip
    import torch

    config_path = folder / f"{TINY_NAME}.json"
    config_path.write_text(json.dumps(TINY_CONFIG), encoding="utf-8")
    open_clip.add_model_config(str(config_path))
    torch.manual_seed(seed)
    model = open_clip.create_model(TINY_NAME)
    checkpoint = folder / "tiny-clip.pt"
    torch.save(model.state_dict(), checkpoint)
    return TinyClip(str(config_path), str(checkpoint))


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory) -> TinyClip:
    """Config path and checkpoint of the tiny random-weight CLIP model."""
    pytest.importorskip("open_clip")
    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture(scope="session")
def tiny_encoder(tiny_clip):
    """The tiny model loaded through laionlens.clip.load_encoder, as a user checkpoint is."""
    from laionlens.clip import load_encoder

    return load_encoder(tiny_clip.config_path, pretrained=None, checkpoint=tiny_clip.checkpoint,
                        device="cpu")
