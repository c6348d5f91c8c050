"""Background jobs: long work in worker processes, one registry of job kinds with typed parameters.

:mod:`~tlcore.jobs.manager` (JobManager, JobStatus), :mod:`~tlcore.jobs.worker` (the process that runs one job),
:mod:`~tlcore.jobs.spawn` (starting and stopping workers), :mod:`~tlcore.jobs.folders` (the job folder on disk),
:mod:`~tlcore.jobs.registry` (JobKind, register_kind, get_kind), :mod:`~tlcore.jobs.params` (the builders' base
and validators), :mod:`tlcore.jobs.kinds` (the built-in kinds and their builders).
"""
