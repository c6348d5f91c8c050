"""Evaluation: k-fold cross-validation, strategy comparison, the data-efficiency curve and predictions.

Modules, bottom up: ``statistics`` (mean, CI, paired differences), ``choices`` (strategy names plus the pixel
baseline), ``folds`` (making, checking and carving folds), ``results`` (result dataclasses), ``cv`` (running folds,
cross-validation), ``baseline`` (raw-pixel logistic regression), ``contenders`` (one strategy with its overrides on
shared folds), ``compare`` (comparison and verdict), ``curve`` (data-efficiency curve), ``tables`` (frames and CSV
of records), ``records`` (run records: build, save, read back), ``predict`` (predictions from a saved run).
"""
