"""Peak memory of the cross-validation case, in a fresh process (a job worker's situation).

Run by ``benchmarks/run.py``::

    python benchmarks/cv_memory.py --workspace WS --images 1000 --folds 5 --epochs 10

The workspace must already hold the digits demo. Starts from an empty feature cache, runs the k-fold CV, and
prints one JSON object: peak RSS, the RSS once the libraries and the backbone are loaded, and the seconds taken.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rss_bytes(field: str = "VmRSS") -> int:
    """This process's resident set size now (``VmRSS``) or at its peak (``VmHWM``).

    Not ``getrusage``'s ``ru_maxrss``: Linux carries the parent's peak into it across fork and exec.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the CV once and print the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--images", type=int, required=True)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import tlcore.runtime

    tlcore.runtime.setup()  # first: tunes malloc before torch loads
    from benchmarks import cases
    from tlcore.evaluate.cv import cross_validate
    from tlcore.models.factory import create_backbone
    from tlcore.runtime.threads import prepare_process
    from tlcore.train.caches import clear_cache
    from tlcore.workspace import Workspace

    prepare_process()
    ws = Workspace(args.workspace)
    dataset = cases.demo_subset(ws, args.images)
    create_backbone(cases.BACKBONE)  # libraries and weights loaded: the baseline the CV adds to
    loaded = rss_bytes()
    clear_cache(ws)
    start = time.perf_counter()
    cross_validate(ws, dataset, cases.cv_config(args.epochs), k=args.folds)
    seconds = time.perf_counter() - start
    peak = rss_bytes("VmHWM")
    print(json.dumps({"peak_rss": peak, "rss_loaded": loaded, "seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
