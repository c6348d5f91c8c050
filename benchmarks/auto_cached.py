"""The auto recipe with only its cached candidates (raw pixels, linear probes, the trained head): what it costs in
backbone passes.

    python benchmarks/auto_cached.py              # 1,000 digits-demo images, probes on EfficientNet-Lite0/1/2
    python benchmarks/auto_cached.py --images 300 --json

First one pass of each backbone over the images is timed (stored images -> pooled features, nothing cached), then
the auto recipe runs from an empty cache with ``--candidates pixels,probe,head`` and a budget large enough to skip
nothing. The target: auto's total time at most 1.5 x the sum of one pass per backbone it considered (each image
goes through each backbone once; the fits, folds and refit cost little on top). Progress on stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import tlcore.runtime  # noqa: E402

tlcore.runtime.setup()
from benchmarks import cases  # noqa: E402
from tlcore.auto.config import AutoConfig  # noqa: E402
from tlcore.auto.runner import run_auto  # noqa: E402
from tlcore.models.efficientnet_lite import LITE  # noqa: E402
from tlcore.models.factory import create_backbone  # noqa: E402
from tlcore.train.caches import cache_entries, clear_cache  # noqa: E402
from tlcore.train.config import TrainConfig  # noqa: E402
from tlcore.workspace import Workspace  # noqa: E402

TARGET = 1.5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tlcore-auto-cached-") as tmp:
        ws = Workspace(Path(tmp) / "ws")
        dataset = cases.demo_subset(ws, args.images)
        setup = cases.Setup(ws, dataset)
        passes = {}
        for name in LITE:
            print(f"one {name} pass over {len(dataset)} images", file=sys.stderr, flush=True)
            passes[name] = cases.one_pass(setup, create_backbone(name))
        clear_cache(ws)
        if cache_entries(ws):
            raise RuntimeError("the cache is not empty before the auto recipe")
        auto = AutoConfig(budget=7200, kinds=("pixels", "probe", "head"), augments=("none",))
        start = time.perf_counter()
        result = run_auto(ws, dataset, TrainConfig(), auto)
        seconds = time.perf_counter() - start
    considered = sorted({r["backbone"] for r in result.leaderboard if r["kind"] in ("probe", "head")})
    pass_sum = sum(passes[b] for b in considered)
    out = {"images": len(dataset), "pass_seconds": passes, "auto_seconds": seconds, "backbones": considered,
           "auto_over_passes": seconds / pass_sum, "target": TARGET, "met": seconds / pass_sum <= TARGET,
           "winner": result.winner, "test_accuracy": result.train.test_metrics["accuracy"],
           "leaderboard": [{k: r.get(k) for k in ("name", "status", "mean", "seconds")} for r in result.leaderboard]}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"{len(dataset)} images; one pass: " + ", ".join(f"{b} {s:.1f} s" for b, s in passes.items()))
    for r in out["leaderboard"]:
        print(f"  {r['name']:<36} {r['status']:<8} {r['mean'] or 0:.3f} {r['seconds'] or 0:>6.1f} s")
    print(f"auto (pixels, probes, head): {seconds:.1f} s = {out['auto_over_passes']:.2f} x the {pass_sum:.1f} s of one "
          f"pass per backbone considered ({', '.join(considered)}); target <= {TARGET}: "
          f"{'met' if out['met'] else 'MISSED'}; winner {result.winner}, test accuracy {out['test_accuracy']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
