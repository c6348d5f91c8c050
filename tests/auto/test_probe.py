"""The linear probe: its choice of C, its probabilities against scikit-learn's, and the head it folds into."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tlcore.auto.probe import ABSENT, CS, MAX_ITER, TOL, choose_c, fit_probe, fold_into_linear


def blobs(n_per_class: int = 30, n_classes: int = 4, d: int = 12, seed: int = 0, spread: float = 1.0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, size=(n_classes, d))
    x = np.concatenate([c + rng.normal(0, spread, size=(n_per_class, d)) * rng.uniform(0.5, 5, d) for c in centres])
    y = np.repeat(np.arange(n_classes), n_per_class)
    return x.astype(np.float32) + 10.0, y  # offset and uneven scales: the standardisation matters


def test_the_probe_gives_scikit_learns_probabilities_for_the_c_it_chose():
    x, y = blobs()
    probe = fit_probe(x, y, 4, seed=0)
    z = ((x - x.mean(0)) / x.std(0)).astype(np.float32)
    reference = LogisticRegression(C=probe.C, max_iter=MAX_ITER, tol=TOL, random_state=0).fit(z, y)
    assert np.allclose(probe.probs(x), reference.predict_proba(z), atol=1e-5)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=probe.C, max_iter=MAX_ITER, tol=TOL))
    pipeline.fit(x.astype(np.float64), y)
    assert (probe.probs(x).argmax(1) == pipeline.predict(x)).mean() > 0.99


def test_the_folded_linear_head_gives_the_probes_logits_on_raw_features():
    x, y = blobs()
    probe = fit_probe(x, y, 4, seed=0)
    linear = torch.nn.Linear(x.shape[1], 4)
    fold_into_linear(probe, linear)
    with torch.no_grad():
        logits = linear(torch.from_numpy(x)).numpy()
    assert np.allclose(logits, probe.logits(x), atol=1e-3)
    assert np.allclose(torch.softmax(torch.from_numpy(logits), 1).numpy(), probe.probs(x), atol=1e-5)


def test_noise_features_get_the_strongest_regularisation_and_clean_ones_a_weaker_one():
    rng = np.random.default_rng(1)
    noise = rng.normal(size=(120, 200)).astype(np.float32)
    labels = rng.integers(0, 3, 120)
    assert choose_c(noise, labels, seed=0) == min(CS)
    x, y = blobs(spread=0.3)
    z = ((x - x.mean(0)) / x.std(0)).astype(np.float32)
    assert choose_c(z, y, seed=0) > min(CS)


def test_two_classes_and_a_class_missing_from_the_training_rows():
    x, y = blobs(n_classes=2)
    probe = fit_probe(x, y, 3, seed=0)  # class 2 has no rows
    probs = probe.probs(x)
    assert probs.shape == (len(x), 3)
    assert probe.intercept[2] == ABSENT and probs[:, 2].max() < 1e-6
    assert (probs.argmax(1) == y).mean() > 0.95


def test_a_single_class_predicts_that_class():
    x, _ = blobs(n_classes=1)
    probe = fit_probe(x, np.zeros(len(x), dtype=int), 3)
    assert np.allclose(probe.probs(x)[:, 0], 1.0)


@pytest.mark.parametrize("c", CS)
def test_choose_c_with_a_single_value_returns_it(c):
    x, y = blobs()
    assert choose_c(x, y, 0, cs=(c,)) == c
