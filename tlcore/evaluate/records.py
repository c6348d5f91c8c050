"""Run records of evaluations (kinds ``cv``, ``compare``, ``curve``): building, saving and reading them back.

A record is the JSON that :func:`tlcore.runs.records.write_run` stores; :func:`save_evaluation` writes any of the
three kinds with its CSV tables (:mod:`tlcore.evaluate.tables`) and out-of-fold probabilities. The saved folds can
be reused by a later run (:func:`reused_folds`). Torch-free at import.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from tlcore.data import Dataset
from tlcore.errors import TlcoreError
from tlcore.evaluate.curve import curve_points
from tlcore.evaluate.folds import check_folds
from tlcore.evaluate.results import ComparisonResult, CurveResult, CVResult, Evaluation, oof_probs
from tlcore.evaluate.statistics import LOWER_IS_BETTER, METRICS, clearly_better, metric_sign, paired_difference
from tlcore.evaluate.tables import CSV_FILES
from tlcore.runs.records import get_run, library_versions, new_run_id, write_run
from tlcore.train.config import config_to_dict
from tlcore.workspace import Workspace


def base_record(result: Evaluation, label: str = "") -> dict[str, Any]:
    """The fields every cv/compare/curve record shares (id, kind, dataset, backbone, config, seed, folds)."""
    config = result.config
    return {"id": new_run_id(), "created": time.time(), "kind": result.kind, "label": label,
            "dataset_id": result.dataset_id, "dataset_name": result.dataset_name, "classes": list(result.classes),
            "backbone": config.backbone, "config": config_to_dict(config), "seed": config.seed, "k": result.k,
            "folds": [np.asarray(f).tolist() for f in result.folds], "versions": library_versions()}


def mean_metrics(block: Mapping[str, Any]) -> dict[str, Any]:
    """A strategy block's mean metrics in the shape of ``test_metrics`` (what the run index reads)."""
    out: dict[str, Any] = {m: block["summary"][m]["mean"] for m in METRICS}
    out["n"] = int(sum(r["n_test"] for r in block["fold_metrics"]))
    return out


def cv_record(result: CVResult, label: str = "") -> dict[str, Any]:
    """The JSON record of a cross-validation (kind ``"cv"``)."""
    block = result.result.to_dict(result.classes)
    record = base_record(result, label)
    modes = [r["cache_mode"] for r in block["fold_metrics"]]
    record.update(strategy=result.config.strategy.name, result=block, test_metrics=mean_metrics(block),
                  timings=block["timings"], cache_mode=modes[0] if modes else "",
                  trainable_params=block["trainable_params"])
    return record


def comparison_rows(blocks: Sequence[Mapping[str, Any]], metric: str) -> list[dict[str, Any]]:
    """One row per strategy: mean ± CI per metric, wall time, trainable parameters, gap to the best."""
    means = [b["summary"][metric]["mean"] for b in blocks]
    best_i = int(np.nanargmin(means) if metric in LOWER_IS_BETTER else np.nanargmax(means))
    best_values = np.asarray([r[metric] for r in blocks[best_i]["fold_metrics"]], dtype=np.float64)
    rows = []
    for i, b in enumerate(blocks):
        row: dict[str, Any] = {"strategy": b["strategy"], "label": b["label"], "best": i == best_i}
        for m in METRICS:
            s = b["summary"][m]
            row.update({m: s["mean"], f"{m}_ci": s["ci_half_width"], f"{m}_std": s["std"]})
        values = np.asarray([r[metric] for r in b["fold_metrics"]], dtype=np.float64)
        d = paired_difference(values, best_values)
        row["gap_to_best"] = d["mean"]
        row["gap_ci"] = d["ci_half_width"]
        row["clearly_worse"] = i != best_i and clearly_better(paired_difference(best_values, values), metric)
        row.update(seconds=b["seconds"], trainable_params=b["trainable_params"],
                   epochs=b["settings"].get("epochs"), image_size=b["settings"].get("image_size"))
        rows.append(row)
    return rows


def comparison_record(result: ComparisonResult, label: str = "") -> dict[str, Any]:
    """The JSON record of a comparison (kind ``"compare"``)."""
    blocks = [r.to_dict(result.classes) for r in result.results]
    best = next(b for b in blocks if b["strategy"] == result.verdict.best)
    record = base_record(result, label)
    record.update(strategy=",".join(b["strategy"] for b in blocks), metric=result.metric, strategies=blocks,
                  rows=comparison_rows(blocks, result.metric), verdict=asdict(result.verdict),
                  test_metrics=mean_metrics(best), timings={"total": result.seconds})
    return record


def curve_record(result: CurveResult, label: str = "") -> dict[str, Any]:
    """The JSON record of a data-efficiency curve (kind ``"curve"``)."""
    record = base_record(result, label)
    points = curve_points(result.rows, result.metric)
    full = [p for p in points if p["fraction"] == max(result.fractions)]
    best = max(full, key=lambda p: metric_sign(result.metric) * p["mean"]) if full else None
    test = {}
    if best is not None:
        sel = [r for r in result.rows if r["strategy"] == best["strategy"] and r["fraction"] == best["fraction"]]
        test = {m: float(np.nanmean([r[m] for r in sel])) for m in METRICS}
    strategies = list(dict.fromkeys(r["strategy"] for r in result.rows))
    record.update(strategy=",".join(strategies), metric=result.metric, fractions=result.fractions, rows=result.rows,
                  points=points, seconds=result.seconds, test_metrics=test,
                  timings={"total": float(sum(result.seconds.values()))})
    return record


# kind -> the function that makes its record
_RECORD_MAKERS: dict[str, Callable[[Any, str], dict[str, Any]]] = {
    "cv": cv_record, "compare": comparison_record, "curve": curve_record}


def evaluation_record(result: Evaluation, label: str = "") -> dict[str, Any]:
    """The JSON record of a cross-validation, comparison or curve (kind ``"cv"``, ``"compare"``, ``"curve"``)."""
    return _RECORD_MAKERS[result.kind](result, label)


def oof_files(result: Evaluation) -> dict[str, np.ndarray]:
    """The out-of-fold probabilities saved with a record: ``oof_probs.npy`` for a cv, one file per strategy for a
    comparison (``oof_probs_<strategy>.npy``), none for a curve."""
    n, c = result.n_images, len(result.classes)
    if isinstance(result, CVResult):
        return {"oof_probs.npy": oof_probs(result.result, result.folds, n, c)}
    if isinstance(result, ComparisonResult):
        return {f"oof_probs_{r.strategy}.npy": oof_probs(r, result.folds, n, c) for r in result.results}
    return {}


def save_evaluation(ws: Workspace, result: CVResult | ComparisonResult | CurveResult, label: str = "") -> str:
    """Record a cross-validation, comparison or curve in the run store with its CSV tables and out-of-fold
    probabilities (cv: ``folds.csv``; compare: ``comparison.csv``, ``folds.csv``; curve: ``curve.csv``,
    ``curve_folds.csv``). Returns the run id."""
    record = evaluation_record(result, label)
    files: dict[str, Any] = {name: table(record).encode() for name, table in CSV_FILES[result.kind]}
    files.update(oof_files(result))
    return write_run(ws, record, files)


def folds_from_record(record: dict[str, Any]) -> list[np.ndarray]:
    """The folds saved in a cv/compare/curve record."""
    if "folds" not in record:
        raise TlcoreError(f"run {record.get('id')} has no saved folds (it is a {record.get('kind', 'train')} run)")
    return [np.asarray(f, dtype=np.int64) for f in record["folds"]]


def reused_folds(ws: Workspace, params: dict, dataset: Dataset, kind: str) -> list[np.ndarray] | None:
    """The folds of the run named by ``reuse_folds_from`` (same dataset required), or None."""
    run_id = params.get("reuse_folds_from")
    if not run_id:
        return None
    record = get_run(ws, str(run_id))
    if record.get("dataset_id") != dataset.id:
        raise TlcoreError(f"{kind}: run {run_id} was made on another dataset ({record.get('dataset_id')}), "
                          f"so its folds can't be reused on {dataset.id}")
    return check_folds(dataset, folds_from_record(record))


def _summary_head(record: Mapping[str, Any]) -> dict[str, Any]:
    return {"run_id": record["id"], "kind": record["kind"], "dataset_id": record["dataset_id"],
            "backbone": record["backbone"]}


def _summarize_cv(record: Mapping[str, Any]) -> dict[str, Any]:
    block = record["result"]
    return {**_summary_head(record), "strategy": record["strategy"], "k": record["k"], "seed": record["seed"],
            "fold_sizes": [len(f) for f in record["folds"]], "fold_metrics": block["fold_metrics"],
            "summary": block["summary"], "trainable_params": block["trainable_params"], "timings": block["timings"]}


def _summarize_comparison(record: Mapping[str, Any]) -> dict[str, Any]:
    return {**_summary_head(record), "k": record["k"], "seed": record["seed"], "metric": record["metric"],
            "fold_sizes": [len(f) for f in record["folds"]],
            "strategies": [{"strategy": b["strategy"], "label": b["label"], "fold_metrics": b["fold_metrics"],
                            "summary": b["summary"], "seconds": b["seconds"],
                            "trainable_params": b["trainable_params"]} for b in record["strategies"]],
            "rows": record["rows"], "verdict": record["verdict"]}


def _summarize_curve(record: Mapping[str, Any]) -> dict[str, Any]:
    return {**_summary_head(record), "k": record["k"], "seed": record["seed"], "metric": record["metric"],
            "fractions": record["fractions"], "points": record["points"], "rows": record["rows"],
            "seconds": record["seconds"]}


_SUMMARIES: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "cv": _summarize_cv, "compare": _summarize_comparison, "curve": _summarize_curve}


def summarize_evaluation(record: Mapping[str, Any]) -> dict[str, Any]:
    """What ``--json`` prints for a cv, compare or curve record.

    cv: per-fold metrics, mean/std/CI per metric and timings; compare: each strategy's per-fold metrics and summary,
    the table and the verdict; curve: the points and the per-fold rows.
    """
    kind = record.get("kind")
    if kind not in _SUMMARIES:
        raise TlcoreError(f"run {record.get('id')} is a {kind or 'train'} run, not a cv, compare or curve run")
    return _SUMMARIES[kind](record)
