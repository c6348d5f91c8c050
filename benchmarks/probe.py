"""One allocator measurement in a fresh process: EfficientNet-Lite0 inference images/s and page faults.

Run by ``benchmarks/run.py`` (one fresh process per setting, since malloc settings only count before torch loads)::

    python benchmarks/probe.py --mode MODE --batch 32 --images 256

Modes (the caller sets the environment to match):

- ``off``: glibc defaults (caller passes ``TLCORE_MALLOC_TUNING=0`` and no ``MALLOC_*`` variables);
- ``mallopt``: ``tlcore.runtime.setup()`` before torch tunes malloc through ``mallopt`` (the app's and the CLI's route);
- ``env``: the ``MALLOC_*`` variables from ``allocator_env()`` (the job worker's route);
- ``late``: torch first, then the same ``mallopt`` calls (what tlcore refuses to do; shown for the record).

Prints one JSON object: images/s, minor page faults per image, the allocator status.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    """Measure and print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("off", "mallopt", "env", "late"), required=True)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--images", type=int, default=256, help="images to time after one warm-up batch")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    if args.mode == "late":
        import torch  # noqa: F401  deliberately before tlcore

        import tlcore.runtime.allocator as alloc

        libc = alloc._libc()
        assert libc is not None, "no mallopt in this C library"
        applied = [libc.mallopt(p, v) for p, v in ((alloc._M_ARENA_MAX, 1), (alloc._M_MMAP_THRESHOLD, alloc._THRESHOLD),
                                                     (alloc._M_TRIM_THRESHOLD, alloc._THRESHOLD))]
        status = f"mallopt after torch import (returned {applied})"
    else:
        import tlcore.runtime
        from tlcore.runtime.allocator import allocator_status

        tlcore.runtime.setup(args.threads)  # first: tunes malloc (unless switched off) before torch loads

        status = allocator_status()

    import torch

    from tlcore.models.factory import create_backbone
    from tlcore.runtime.threads import configure_threads

    threads = configure_threads(args.threads)
    model = create_backbone("efficientnet_lite0").model.eval().to(memory_format=torch.channels_last)
    torch.manual_seed(0)
    x = torch.randn(args.batch, 3, 224, 224).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        model(x)  # warm-up: oneDNN primitives, first allocations
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        start, done = time.perf_counter(), 0
        while done < args.images:
            model(x)
            done += args.batch
        seconds = time.perf_counter() - start
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    print(json.dumps({"mode": args.mode, "batch": args.batch, "images_per_s": done / seconds,
                      "faults_per_image": faults / done, "allocator": status, "threads": threads}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
