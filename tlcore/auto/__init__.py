"""The auto recipe: score candidate recipes by cross-validation on the non-test part of a split, keep the best
(the cheaper one on a near-tie), refit it on all non-test images and test it once; the result is an ordinary run.

Modules, bottom up: ``config`` (the settings, torch-free), ``candidates`` (what can be tried and its training
settings), ``probe`` (logistic regression on features, folded into a linear head), ``features`` (cached pooled
features and pixels), ``estimate`` (what each candidate will cost, and the plan that fits the budget), ``scoring``
(a candidate on the folds), ``choose`` (the leaderboard, the winner and the reason in plain words), ``refit``
(the winner trained on all non-test images) and ``runner`` (:func:`tlcore.auto.runner.run_auto`, top to bottom).
"""
