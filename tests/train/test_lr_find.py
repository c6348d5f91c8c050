"""The learning-rate range test (tlcore.train.lr_find): fastai's valley rule on known curves, the sweep's stopping
rules, a suggestion inside the good range of a synthetic softmax problem, and nothing changed afterwards."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tests.conftest import fresh_backbone, tiny_config
from tlcore.errors import Cancelled
from tlcore.events import CancelToken
from tlcore.train.lr_find import (
    LRFindResult,
    LRFindSettings,
    lr_find,
    range_test,
    smooth,
    suggest,
    sweep,
    valley,
)
from tlcore.train.strategies import SettingError

# fastai's rules, on curves worked out by hand


def test_valley_is_fastais_longest_decreasing_run_at_its_middle_third():
    assert valley([5, 4, 3, 2, 1]) == 0  # start counted one before the first point: -1 + int(5/3) + int(5/6)
    assert valley([3, 2, 5, 1, 0, 4]) == 1  # longest run 3, 2, 1, 0 (start 0, end 4): 0 + 1 + 0
    assert valley(list(range(100, 0, -1))) == 48  # -1 + 33 + 16
    assert valley([1.0]) == 0
    assert valley([2.0, 1.0]) == 1  # -1 + 0 + 0, read as Python reads it in fastai: the last point
    assert valley([1, 2, 3]) == 0  # nothing decreases: the first point


def test_smoothing_is_a_debiased_moving_average():
    assert smooth([2.0, 2.0, 2.0]) == pytest.approx([2.0, 2.0, 2.0])
    out = smooth([1.0, 3.0])
    assert out[0] == pytest.approx(1.0) and out[1] == pytest.approx((0.98 * 0.02 + 0.02 * 3) / (1 - 0.98 ** 2))


def test_the_suggestion_skips_the_first_tenth_the_last_five_and_anything_after_a_nan():
    lrs = [10.0 ** (i / 10) for i in range(30)]
    losses = [30.0 - i for i in range(30)]
    index = suggest(lrs, losses, num_it=30)
    assert index == 3 + valley(losses[3:25])
    losses[12] = math.nan
    assert suggest(lrs, losses, num_it=30) == 3 + valley(losses[3:12])
    assert suggest(lrs[:6], losses[:6], num_it=30) is None  # stopped too early: nothing left to suggest from


def test_the_sweep_is_exponential_and_stops_at_4x_the_minimum_or_a_non_finite_loss():
    settings = LRFindSettings(start_lr=1e-4, end_lr=1.0, num_it=40)
    done = sweep(lambda lr: 1.0, settings)
    assert done.stopped == "done" and len(done.lrs) == 40
    assert done.lrs[0] == pytest.approx(1e-4) and done.lrs[20] == pytest.approx(1e-2)
    assert np.allclose(np.diff(np.log(done.lrs)), math.log(1e4) / 40)
    diverging = sweep(lambda lr: 1.0 if lr < 1e-2 else 1e4, settings)
    assert diverging.stopped == "diverged" and len(diverging.lrs) == 21  # the point that diverged is kept
    assert diverging.smoothed[-1] > 4 * min(diverging.smoothed)
    nan = sweep(lambda lr: 1.0 if lr < 1e-3 else math.nan, settings)
    assert nan.stopped == "non-finite" and math.isnan(nan.losses[-1])
    kept_on = sweep(lambda lr: 1.0 if lr < 1e-2 else 1e4, LRFindSettings(1e-4, 1.0, 40, stop_div=False))
    assert kept_on.stopped == "done" and len(kept_on.lrs) == 40


@pytest.mark.parametrize("changes, setting", [({"start_lr": 0.0}, "start_lr"), ({"num_it": 3}, "num_it"),
                                              ({"start_lr": 1.0, "end_lr": 0.1}, "start_lr"),
                                              ({"end_lr": math.inf}, "end_lr")])
def test_bad_settings_are_refused_by_name(changes, setting):
    with pytest.raises(SettingError, match=setting):
        LRFindSettings(**changes)


# A problem whose good Adam rates are known: softmax regression on overlapping Gaussian classes


def _blobs(n: int = 512, d: int = 20, k: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(k, d, generator=g) * 0.5
    y = torch.randint(0, k, (n,), generator=g)
    return centres[y] + torch.randn(n, d, generator=g), y


X, Y = _blobs()


def _batches(epoch: int):
    perm = torch.randperm(len(X), generator=torch.Generator().manual_seed(epoch))
    for i in range(0, len(X), 32):
        yield X[perm[i:i + 32]], Y[perm[i:i + 32]]


def _loss_after_training(lr: float, epochs: int = 3) -> float:
    torch.manual_seed(0)
    model = torch.nn.Linear(20, 5)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for epoch in range(epochs):
        for x, y in _batches(epoch):
            loss = torch.nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        return float(torch.nn.functional.cross_entropy(model(X), Y))


def test_the_suggestion_falls_in_the_good_range_of_a_softmax_problem():
    # the good range, by brute force: rates whose loss after 3 short epochs has made 75% of the best rate's progress
    rates = np.logspace(-5, 1, 13)
    final = np.array([_loss_after_training(lr) for lr in rates])
    untrained, best = final[0], final.min()
    good = rates[final <= best + 0.25 * (untrained - best)]
    assert 1e-3 < good.min() and good.max() < 3  # a real band, neither too slow nor diverging
    for seed in range(3):
        torch.manual_seed(seed)
        model = torch.nn.Linear(20, 5)
        curve = range_test(model, torch.optim.Adam(model.parameters(), lr=1e-3), _batches, model,
                           torch.nn.functional.cross_entropy)
        lr = curve.lrs[suggest(curve.lrs, curve.smoothed, 100)]
        assert good.min() <= lr <= good.max(), (lr, good)


def test_range_test_puts_weights_optimizer_modes_and_random_state_back():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(20, 16), torch.nn.BatchNorm1d(16), torch.nn.Dropout(0.2),
                                torch.nn.Linear(16, 5))
    optimizer = torch.optim.AdamW([{"params": model[0].parameters(), "lr": 1e-4},
                                   {"params": model[3].parameters(), "lr": 1e-3}])
    model(X).sum().backward()
    optimizer.step()  # some optimizer state to keep
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    state_before = {k: {n: t.clone() for n, t in s.items() if torch.is_tensor(t)} for k, s in optimizer.state.items()}
    rng = torch.get_rng_state()
    seen = []

    def forward(x):
        seen.append([g["lr"] for g in optimizer.param_groups])
        return model(x)

    model.train()
    range_test(model, optimizer, _batches, forward, torch.nn.functional.cross_entropy, LRFindSettings(num_it=20))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.training  # as it was when the test began
    assert [g["lr"] for g in optimizer.param_groups] == [1e-4, 1e-3]
    for p, s in optimizer.state.items():
        assert all(torch.equal(state_before[p][n], t) for n, t in s.items() if torch.is_tensor(t))
    assert torch.equal(torch.get_rng_state(), rng)
    assert seen[5][0] == pytest.approx(seen[5][1] * 0.1)  # the groups keep their ratio to the swept (last) one


def test_a_cancelled_range_test_still_restores_the_weights():
    model = torch.nn.Linear(20, 5)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    token = CancelToken()
    calls = []

    def forward(x):
        calls.append(1)
        if len(calls) == 5:
            token.cancel()
        return model(x)

    with pytest.raises(Cancelled):
        range_test(model, torch.optim.Adam(model.parameters()), _batches, forward,
                   torch.nn.functional.cross_entropy, cancel=token)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


# On the training pipeline's cached inputs


@pytest.mark.parametrize("strategy, inputs, n_trainable", [("feature-extraction", "features", 0),
                                                           ("fine-tune", "prefix", 2)])
def test_lr_find_runs_on_the_cached_inputs_and_leaves_the_backbone_as_it_was(ws, dataset, strategy, inputs,
                                                                            n_trainable):
    backbone = fresh_backbone()
    before = {k: v.clone() for k, v in backbone.model.state_dict().items()}
    grads = [p.requires_grad for p in backbone.model.parameters()]
    result = lr_find(ws, dataset, tiny_config(strategy), settings=LRFindSettings(num_it=30), backbone=backbone)
    assert result.inputs == inputs and result.n_trainable == n_trainable and result.strategy == strategy
    assert len(result.lrs) == len(result.losses) == len(result.smoothed) <= 30
    assert result.suggested_index is not None and result.suggested_lr == result.lrs[result.suggested_index]
    assert all(torch.equal(before[k], v) for k, v in backbone.model.state_dict().items())
    assert [p.requires_grad for p in backbone.model.parameters()] == grads
    assert result.config["strategy"]["name"] == strategy
    assert LRFindResult.from_dict(result.to_dict()) == result


def test_the_result_serialises_non_finite_losses_as_null():
    result = LRFindResult(lrs=(1e-3, 1e-2), losses=(1.0, math.inf), smoothed=(1.0, math.nan), suggested_lr=None,
                          suggested_index=None, stopped="non-finite", strategy="fine-tune", n_trainable=2,
                          inputs="prefix")
    data = result.to_dict()
    assert data["losses"] == [1.0, None] and data["smoothed"] == [1.0, None]
    assert data["settings"] == {"start_lr": 1e-7, "end_lr": 10.0, "num_it": 100, "stop_div": True}
    back = LRFindResult.from_dict(data)
    assert math.isnan(back.losses[1]) and back.settings == LRFindSettings()
