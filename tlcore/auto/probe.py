"""The linear probe: multinomial logistic regression (scikit-learn, L-BFGS) on standardised features, its
regularisation chosen by an inner stratified cross-validation, and folded into a torch linear head.

The same fit serves the raw-pixel baseline (features = pixels) and the probe on a backbone's pooled features.
:func:`fold_into_linear` writes ``W / scale`` and ``b - W @ (mean / scale)`` into an ``nn.Linear``, so the head on
raw features gives exactly the logits the scikit-learn pipeline gives on standardised ones. Torch-free at import.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

if TYPE_CHECKING:
    from torch import nn

CS = (0.001, 0.01, 0.1, 1.0)  # inverse L2 strengths tried by the inner CV (features are standardised)
INNER_FOLDS = 3
MAX_ITER = 500
ABSENT = -1e4  # logit of a class the fit never saw (it then gets probability ~0)


@dataclass(frozen=True)
class Probe:
    """A fitted probe: the standardisation and the logistic regression's coefficients, for all classes."""

    mean: np.ndarray  # (d,) feature means of the training rows
    scale: np.ndarray  # (d,) their standard deviations (1 where a feature is constant)
    coef: np.ndarray  # (n_classes, d), rows of absent classes are 0
    intercept: np.ndarray  # (n_classes,), ABSENT for absent classes
    C: float  # the regularisation the inner CV chose

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Logits for raw (unstandardised) rows ``x``."""
        z = (np.asarray(x, dtype=np.float64) - self.mean) / self.scale
        return z @ self.coef.T + self.intercept

    def probs(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities for raw rows ``x`` (softmax of :meth:`logits`), float32."""
        z = self.logits(x)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)

    @property
    def n_params(self) -> int:
        """Coefficients and intercepts."""
        return int(self.coef.size + self.intercept.size)

    def settings(self) -> dict[str, Any]:
        """What was fitted, for the leaderboard and the run record."""
        return {"model": "LogisticRegression (multinomial, L2, L-BFGS) on standardised features", "C": self.C,
                "features": int(self.coef.shape[1])}


def choose_c(z: np.ndarray, y: np.ndarray, seed: int, cs: Sequence[float] = CS, inner_folds: int = INNER_FOLDS
             ) -> float:
    """The C of ``cs`` with the best mean inner-CV log loss on standardised rows ``z`` (ties: the smaller C).

    With too few images per class for ``inner_folds`` folds, the inner CV uses as many folds as the smallest class
    allows; with fewer than 2 it is skipped and 1.0 is returned.
    """
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold

    counts = np.bincount(y)
    folds = min(inner_folds, int(counts[counts > 0].min()))
    if folds < 2 or len(cs) == 1:
        return float(cs[0]) if len(cs) == 1 else 1.0
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    search = LogisticRegressionCV(Cs=list(cs), cv=cv, scoring="neg_log_loss", max_iter=MAX_ITER, refit=False,
                                  random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning on the weakest C; the scores still rank
        search.fit(z, y)
    scores = np.mean(next(iter(search.scores_.values())), axis=0)  # (len(cs),), mean over inner folds
    return float(np.asarray(cs)[int(np.argmax(scores))])


def fit_probe(x: np.ndarray, y: np.ndarray, n_classes: int, seed: int = 0, cs: Sequence[float] = CS,
              inner_folds: int = INNER_FOLDS) -> Probe:
    """Standardise ``x``, choose C by inner CV (:func:`choose_c`), fit the logistic regression on all of ``x``."""
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-12] = 1.0
    z = (x - mean) / scale
    coef = np.zeros((n_classes, x.shape[1]))
    intercept = np.full(n_classes, ABSENT)
    present = np.unique(y)
    if len(present) == 1:  # one class only: it is the prediction
        intercept[present[0]] = 0.0
        return Probe(mean, scale, coef, intercept, 1.0)
    c = choose_c(z, y, seed, cs, inner_folds)
    model = LogisticRegression(C=c, max_iter=MAX_ITER, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(z, y)
    classes = model.classes_
    if len(classes) == 2:  # scikit-learn keeps one row for two classes: logits (-w/2, w/2) give the same softmax
        w, b = model.coef_[0], model.intercept_[0]
        coef[classes[0]], coef[classes[1]] = -w / 2, w / 2
        intercept[classes[0]], intercept[classes[1]] = -b / 2, b / 2
    else:
        coef[classes] = model.coef_
        intercept[classes] = model.intercept_
    return Probe(mean, scale, coef, intercept, c)


def fold_into_linear(probe: Probe, linear: "nn.Linear") -> None:
    """Write the probe, standardisation included, into ``linear`` (in place): raw features in, the probe's logits
    out."""
    import torch

    weight = probe.coef / probe.scale
    bias = probe.intercept - weight @ probe.mean
    with torch.no_grad():
        linear.weight.copy_(torch.as_tensor(weight, dtype=linear.weight.dtype))
        linear.bias.copy_(torch.as_tensor(bias, dtype=linear.bias.dtype))
