"""Choosing the winner: best mean, the cheaper one on a near-tie (one standard error), and the reason."""

from __future__ import annotations

import numpy as np

from tlcore.auto.candidates import Candidate
from tlcore.auto.choose import choose, leaderboard_row, paired_se
from tlcore.auto.scoring import Scored
from tlcore.evaluate.results import FoldResult, StrategyResult


def scored(candidate: Candidate, accuracies, seconds: float) -> Scored:
    folds = [FoldResult(fold=i + 1, n_train=10, n_val=0, n_test=5, metrics={"accuracy": a}, probs=np.zeros((5, 2)),
                        seconds=1.0, trainable_params=1) for i, a in enumerate(accuracies)]
    return Scored(candidate, StrategyResult(candidate.name, candidate.label, {}, folds, seconds), seconds)


PIX = Candidate("pixels", "raw_pixels")
PROBE = Candidate("probe", "efficientnet_lite0")
FT = Candidate("fine-tune", "efficientnet_lite0", 1)


def test_a_lead_within_one_standard_error_keeps_the_cheaper_candidate():
    probe = scored(PROBE, [0.90, 0.92, 0.91, 0.93, 0.90], seconds=10)
    ft = scored(FT, [0.93, 0.90, 0.92, 0.92, 0.91], seconds=100)  # +0.004 mean, noisy
    choice = choose([probe, ft])
    assert choice.best is ft and choice.winner is probe
    assert "not clearly better" in choice.reason and "cheaper one was kept" in choice.reason


def test_a_clear_lead_keeps_the_best_and_says_fine_tuning_beat_the_probe():
    probe = scored(PROBE, [0.90, 0.91, 0.90, 0.92, 0.90], seconds=10)
    ft = scored(FT, [0.97, 0.98, 0.97, 0.98, 0.97], seconds=100)
    choice = choose([probe, ft])
    assert choice.winner is ft and choice.best is ft
    assert "Fine-tuning beat the best linear probe" in choice.reason


def test_pixels_beating_every_backbone_is_said_in_plain_words():
    pix = scored(PIX, [0.96, 0.97, 0.96, 0.95, 0.97], seconds=20)
    probe = scored(PROBE, [0.89, 0.90, 0.88, 0.91, 0.90], seconds=10)
    choice = choose([probe, pix])
    assert choice.winner is pix
    assert "Raw pixels beat every pretrained backbone here: ImageNet features fit this data poorly" in choice.reason


def test_paired_standard_error_and_the_leaderboard_row():
    a = scored(PROBE, [0.9, 0.8, 0.7], 1)
    b = scored(FT, [0.8, 0.8, 0.8], 2)
    lead, se = paired_se(a, b)
    assert np.isclose(lead, 0.0) and np.isclose(se, np.std([0.1, 0.0, -0.1], ddof=1) / np.sqrt(3))
    row = leaderboard_row(a, estimated=3.0)
    assert row["name"] == PROBE.name and row["status"] == "done" and row["estimated_seconds"] == 3.0
    assert np.isclose(row["mean"], 0.8) and 0 <= row["ci_low"] < 0.8 < row["ci_high"] <= 1 and row["fold_scores"] == [0.9, 0.8, 0.7]
