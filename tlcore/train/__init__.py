"""Training: settings (:mod:`~tlcore.train.config`), strategies and schedules, the frozen part's caches, the epoch
inputs, one epoch, early stopping and the loop (:func:`tlcore.train.loop.train`). Import from the submodules; this
package imports nothing, so configs and strategy names load without torch."""
