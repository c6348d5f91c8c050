"""Estimates and the plan: measured throughput, shared passes paid once, skips with the reason."""

from __future__ import annotations

import math

from tlcore.auto.candidates import Candidate
from tlcore.auto.config import AutoConfig
from tlcore.auto.estimate import Cost, Sizes, estimate, fit_rate, fit_seconds, measure_backbone, plan

A, B, C = (Candidate("probe", "a"), Candidate("head", "a"), Candidate("probe", "b"))


def test_a_shared_pass_is_paid_once_and_what_does_not_fit_is_skipped_with_the_reason():
    costs = [(A, Cost(5, (("a/pooled", 20),), 10)), (B, Cost(3, (("a/pooled", 20),), 10)),
             (C, Cost(5, (("b/pooled", 40),), 12))]
    rows = plan(costs, budget=60)
    assert [r.included for r in rows] == [True, True, False]
    assert rows[0].seconds == 25 and rows[1].seconds == 3  # the pass is already paid for by the probe
    # its own 45 s plus the 2 s its refit needs beyond the 10 s already reserved; 60 - 28 used - 10 reserved = 22 left
    assert rows[2].reason == "needs about 47 s; 22 s of the budget left"
    assert plan(costs, budget=200)[2].included


def test_the_refit_of_the_dearest_kept_candidate_is_reserved():
    costs = [(A, Cost(10, (), 50)), (B, Cost(10, (), 5))]
    assert [r.included for r in plan(costs, budget=70)] == [True, True]  # 10 + 10 + A's refit of 50
    assert [r.included for r in plan(costs, budget=69)] == [True, False]
    assert [r.included for r in plan(costs, budget=59)] == [False, True]  # A's refit alone does not fit
    assert [r.included for r in plan(costs, budget=100, spent=45)] == [False, True]


def test_estimates_grow_with_epochs_folds_and_uncached_images(tiny_effnet):
    throughput = measure_backbone(tiny_effnet, 32, groups=(1, 2), scratch=True)
    assert throughput.forward_rate > 0 and math.isfinite(throughput.forward_rate)
    assert set(throughput.tail_step) == {1, 2} and all(v > 0 for v in throughput.tail_step.values())
    assert throughput.full_step > 0
    sizes = Sizes(selection=100, test=20, classes=3, folds=5, val_fraction=0.15)
    rate = fit_rate(256, 3)
    assert rate > 0 and fit_seconds(200, rate) == 2 * fit_seconds(100, rate)
    ft = Candidate("fine-tune", "x", 1)
    cold = estimate(ft, sizes, AutoConfig(), throughput, {"pooled": 120, "prefix-1": 120}, rate)
    warm = estimate(ft, sizes, AutoConfig(), throughput, {"pooled": 0, "prefix-1": 0}, rate)
    assert cold.total(set()) > warm.total(set()) and warm.own == cold.own
    longer = estimate(ft, sizes, AutoConfig(max_epochs=20), throughput, {"pooled": 0, "prefix-1": 0}, rate)
    assert longer.own > warm.own
    augmented = estimate(Candidate("head", "x", augment="default"), sizes, AutoConfig(), throughput,
                         {"pooled": 0}, rate)
    plain = estimate(Candidate("head", "x"), sizes, AutoConfig(), throughput, {"pooled": 0}, rate)
    assert augmented.own > plain.own
    scratch = estimate(Candidate("scratch", "x"), sizes, AutoConfig(), throughput, {}, rate)
    assert scratch.own > warm.own
