"""Time to embed one text query with the ViT-B-32 architecture on CPU.

The weights are random (``open_clip.create_model("ViT-B-32")`` with no pretrained
tag): the time depends on the architecture, not on the weights, and nothing is
downloaded. The query goes through the same tokenizer and encode path as the
server's ``/-/similar?q=`` (``ClipEncoder.encode_texts``).

    nice python bench/clip_text.py --repeat 50
"""

import argparse
import json
import threading
import time

import numpy as np


def random_weight_encoder(model_name: str):
    import open_clip

    from laionlens.clip import ClipEncoder, _preprocess_id

    model, _, preprocess = open_clip.create_model_and_transforms(model_name, pretrained=None, device="cpu")
    model.eval()
    return ClipEncoder(model_name=model_name, pretrained=None, checkpoint=None,
                       dim=int(open_clip.get_model_config(model_name)["embed_dim"]),
                       preprocess_id=_preprocess_id(model), device="cpu", model=model,
                       preprocess=preprocess, tokenizer=open_clip.get_tokenizer(model_name),
                       lock=threading.Lock())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="ViT-B-32", help="open_clip architecture name")
    parser.add_argument("--repeat", type=int, default=50, help="number of timed queries")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    started = time.perf_counter()
    encoder = random_weight_encoder(args.model)
    load_s = time.perf_counter() - started
    queries = [f"a photograph of a {word} on a beach at sunset" for word in
               ("dog", "cat", "castle", "boat", "painting", "robot", "forest", "city")]
    encoder.encode_texts(queries[:1])  # first call allocates; not timed
    timings = []
    for number in range(args.repeat):
        started = time.perf_counter()
        encoder.encode_texts([queries[number % len(queries)]])
        timings.append((time.perf_counter() - started) * 1000)
    print(json.dumps({
        "model": args.model, "torch_threads": torch.get_num_threads(), "model_build_s": round(load_s, 2),
        "p50_ms": round(float(np.percentile(timings, 50)), 1),
        "p95_ms": round(float(np.percentile(timings, 95)), 1), "repeat": args.repeat,
    }, indent=2))


if __name__ == "__main__":
    main()
