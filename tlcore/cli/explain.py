"""``python -m tlcore explain`` and ``python -m tlcore report``: attribution maps and the review report, headless.

Both draw on a saved run (:mod:`tlcore.explain.run_images`, :mod:`tlcore.explain.run_report`); the parser needs only
the method and sign names, which :mod:`tlcore.explain.config` and :mod:`tlcore.explain.overlay` declare torch-free.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from tlcore.cli.common import StderrProgress, add_command, number, require_files, say, whole
from tlcore.errors import TlcoreError
from tlcore.explain.config import MAX_SAMPLES, MAX_SIDE, MAX_STEPS, METHOD_NAMES
from tlcore.explain.overlay import SIGNS
from tlcore.train.strategies import Limit
from tlcore.workspace import Workspace

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``explain`` and ``report`` subcommands."""
    p = add_command(sub, common, "explain", cmd_explain, "write attribution-map overlays for images",
                    description="Explain a saved run's predictions: one overlay PNG per image.")
    p.add_argument("--run", required=True, help="run id")
    p.add_argument("--method", required=True, choices=METHOD_NAMES, help="attribution method")
    p.add_argument("--out", required=True, help="folder for the overlay PNGs (created if needed)")
    p.add_argument("--target", default="predicted",
                   help="class to explain: 'predicted' (default), a class name or a class index")
    p.add_argument("--sign", default="positive", choices=SIGNS, help="which evidence to colour (positive)")
    p.add_argument("--opacity", type=number(Limit(0, 1)), default=0.5, help="map opacity over the image, 0-1 (0.5)")
    p.add_argument("--no-sanity", action="store_true", help="skip the model-randomisation sanity check")
    p.add_argument("--faithfulness", action="store_true", help="also score each map by deletion/insertion")
    g = p.add_argument_group("method settings")
    g.add_argument("--steps", type=whole(Limit(1, MAX_STEPS)), help="Integrated Gradients steps (32)")
    g.add_argument("--samples", type=whole(Limit(1, MAX_SAMPLES)), help="SmoothGrad / GradientShap samples (10)")
    g.add_argument("--window", type=whole(Limit(1, MAX_SIDE)), help="Occlusion window in px (32)")
    g.add_argument("--stride", type=whole(Limit(1, MAX_SIDE)), help="Occlusion stride in px (16)")
    p.add_argument("images", nargs="+", help="image files")

    r = add_command(sub, common, "report", cmd_report, "write a run's review report as one HTML file",
                    description="Dataset summary, metrics, confusion matrix, a gallery of correct and wrong "
                                "predictions with attribution maps, and the sanity-check results.")
    r.add_argument("--run", required=True, help="run id")
    r.add_argument("--out", required=True, help="the .html file to write")
    r.add_argument("--methods", default="gradcam,integrated-gradients",
                   help="comma-separated methods for the gallery (gradcam,integrated-gradients)")
    r.add_argument("--per-group", type=whole(Limit(0)), default=4, help="images per gallery, correct and wrong (4)")
    r.add_argument("--sanity-images", type=whole(Limit(0)), default=4, help="images used by the sanity check (4)")


def cmd_explain(args: argparse.Namespace, ws: Workspace) -> dict[str, Any]:
    """Overlay PNGs (and, unless --no-sanity, the sanity check) for the given images."""
    from PIL import Image

    from tlcore.explain.overlay import overlay
    from tlcore.explain.run_images import explain_run

    out = _out_folder(args.out)
    require_files(args.images)
    settings = {k: getattr(args, k) for k in ("steps", "samples", "window", "stride") if getattr(args, k) is not None}
    result = explain_run(ws, args.run, [Path(p) for p in args.images], [args.method], target=args.target,
                         names=list(args.images), settings=settings, sanity=not args.no_sanity,
                         check_faithfulness=args.faithfulness, on_event=StderrProgress(args.quiet))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TlcoreError(f"--out {out}: cannot create the folder ({exc.strerror or type(exc).__name__})") from None
    sanity = result.sanity.get(args.method)
    rows = []
    for i, (path, item) in enumerate(zip(args.images, result.images)):
        png = out / f"{i:03d}_{_SAFE.sub('_', Path(path).stem)}_{args.method}.png"
        Image.fromarray(overlay(item.image, item.maps[args.method].map, args.sign, args.opacity)).save(png)
        attribution = item.maps[args.method]
        row: dict[str, Any] = {
            "image": str(path),
            "prediction": {"class": result.classes[item.predicted], "probability": float(item.probs[item.predicted])},
            "target": result.classes[item.target],
            "png": str(png),
            "seconds": attribution.seconds,
        }
        if attribution.delta is not None:
            row["convergence_delta"] = attribution.delta
        if sanity is not None:
            row["sanity"] = {"passed": sanity.per_image_passed[i], "rank_correlation": sanity.steps[-1].per_image[i],
                             "verdict": sanity.verdict}
        if args.faithfulness:
            f = result.faithfulness[args.method][i]
            row["faithfulness"] = {"score": f.score, "deletion_auc": f.deletion_auc,
                                   "random_deletion_auc": f.random_deletion_auc, "insertion_auc": f.insertion_auc,
                                   "verdict": f.verdict}
        rows.append(row)
        if not args.json:
            pred = row["prediction"]
            say(f"{path}: {pred['class']} {pred['probability']:.1%} -> {png}")
    if sanity is not None and not args.json:
        say(sanity.verdict)
    return {"run_id": args.run, "method": args.method, "images": rows}


def _out_folder(text: str) -> Path:
    """``--out`` of ``explain``: a folder, or a path where one can be made (checked before any work is done)."""
    out = Path(text)
    for at in (out, *out.parents):
        if at.exists():
            if not at.is_dir():
                where = "is a file" if at == out else f"cannot be created: {at} is a file"
                raise TlcoreError(f"--out {out}: {where}; give a folder for the overlay PNGs")
            break
    return out


def cmd_report(args: argparse.Namespace, ws: Workspace) -> dict[str, Any]:
    """Write the review report."""
    from tlcore.explain.run_report import write_run_report

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHOD_NAMES]
    if unknown or not methods:
        raise TlcoreError(f"--methods: unknown method {unknown[0] if unknown else '(none)'!r}; "
                          f"choose from {', '.join(METHOD_NAMES)}")
    if not args.out.lower().endswith((".html", ".htm")):
        raise TlcoreError(f"--out {args.out}: the report is an HTML file; give a name ending in .html")
    if Path(args.out).is_dir():
        raise TlcoreError(f"--out {args.out}: is a folder; give the .html file to write")
    path = write_run_report(ws, args.run, args.out, methods=methods, per_group=args.per_group,
                            sanity_images=args.sanity_images, on_event=StderrProgress(args.quiet))
    if not args.json:
        say(f"wrote {path}")
    return {"run_id": args.run, "report": str(path), "bytes": path.stat().st_size}
