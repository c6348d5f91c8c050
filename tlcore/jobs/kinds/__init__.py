"""The built-in job kinds; importing this package registers them in :mod:`tlcore.jobs.registry`.

- :mod:`tlcore.jobs.kinds.train`: ``train`` (:class:`TrainJob`)
- :mod:`tlcore.jobs.kinds.auto`: ``auto`` (:class:`AutoJob`), the auto recipe
- :mod:`tlcore.jobs.kinds.lr_find`: ``lr-find`` (:class:`LRFindJob`)
- :mod:`tlcore.jobs.kinds.evaluate`: ``cv``, ``compare``, ``curve`` (:class:`CVJob`, :class:`CompareJob`,
  :class:`CurveJob`)
- :mod:`tlcore.jobs.kinds.explain`: ``explain``, ``explain-report`` (:class:`ExplainJob`, :class:`ReportJob`)

Each module is light (the engine is imported when a worker runs a kind), so the app can import the builders.
"""

from __future__ import annotations

from tlcore.jobs.kinds.auto import AutoJob
from tlcore.jobs.kinds.evaluate import CompareJob, CurveJob, CVJob
from tlcore.jobs.kinds.explain import ExplainJob, ReportJob
from tlcore.jobs.kinds.lr_find import LRFindJob
from tlcore.jobs.kinds.train import TrainJob

__all__ = ["AutoJob", "CVJob", "CompareJob", "CurveJob", "ExplainJob", "LRFindJob", "ReportJob", "TrainJob"]
