"""Seconds per image for each attribution method on EfficientNet-Lite0 at 224 px (CPU).

    python -m benchmarks.explain_speed [--images 4] [--threads 2]   # from the repository root

Uses the offline ImageNet weights and scikit-learn's two sample photos (cropped to make more images);
the head is a fresh 10-class one (the cost does not depend on its weights). Prints a table.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from PIL import Image
from sklearn.datasets import load_sample_images

from tlcore.data.augment import eval_transform
from tlcore.explain import ExplainConfig, explain, faithfulness, sanity_check
from tlcore.models.factory import create_backbone
from tlcore.models.transfer import TransferModel

CASES = (
    ("gradcam", {}),
    ("saliency", {}),
    ("smoothgrad", {"samples": 10}),
    ("gradient-shap", {"samples": 10}),
    ("integrated-gradients", {"steps": 32}),
    ("integrated-gradients", {"steps": 50}),
    ("occlusion", {"window": 32, "stride": 16}),
    ("occlusion", {"window": 64, "stride": 32}),
)


def sample_images(n: int, transform) -> torch.Tensor:
    photos = [Image.fromarray(a) for a in load_sample_images().images]
    crops = []
    for i in range(n):
        photo = photos[i % len(photos)]
        w, h = photo.size
        k = i // len(photos)
        box = (k * 37 % (w // 3), k * 23 % (h // 3), w - k * 29 % (w // 3), h - k * 17 % (h // 3))
        crops.append(transform(photo.crop(box)))
    return torch.stack(crops)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    backbone = create_backbone("efficientnet_lite0")
    model = TransferModel(backbone, 10).eval()
    x = sample_images(args.images, eval_transform(backbone.data_config))
    with torch.no_grad():
        targets = model(x).argmax(1).tolist()
    print(f"EfficientNet-Lite0, {tuple(x.shape[-2:])} px, {args.images} images, {args.threads} threads\n")
    print(f"{'method':<22}{'settings':<22}{'s / image':>10}")
    for method, extra in CASES:
        config = ExplainConfig(method, **extra)
        explain(model, x[:1], targets[:1], config)  # warm-up (layer probe, allocator)
        began = time.perf_counter()
        out = explain(model, x, targets, config)
        per_image = (time.perf_counter() - began) / len(x)
        settings = ", ".join(f"{k}={v}" for k, v in extra.items()) or "defaults"
        print(f"{method:<22}{settings:<22}{per_image:>10.3f}")
        if method == "integrated-gradients":
            deltas = [abs(a.delta) for a in out]
            print(f"{'':<22}{'|delta| median':<22}{np.median(deltas):>10.3f}")
    began = time.perf_counter()
    result = sanity_check(model, x, targets, ExplainConfig("gradcam"))
    print(f"{'sanity check (gradcam)':<44}{(time.perf_counter() - began) / len(x):>10.3f}  "
          f"passed={result.passed}, final rank correlation {result.final_correlation:.2f}")
    amap = explain(model, x[:1], targets[:1], ExplainConfig("gradcam"))[0].map
    began = time.perf_counter()
    f = faithfulness(model, x[:1], targets[0], amap)
    print(f"{'faithfulness (20 steps)':<44}{time.perf_counter() - began:>10.3f}  score={f.score:.3f}")


if __name__ == "__main__":
    main()
