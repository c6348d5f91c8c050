"""The workbench benchmark (``python benchmarks/run.py``); not part of the tlcore package."""
