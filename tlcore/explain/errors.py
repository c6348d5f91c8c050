"""Errors raised by :mod:`tlcore.explain`; messages name the setting or model part at fault."""

from __future__ import annotations

from tlcore.errors import TlcoreError


class ExplainError(TlcoreError, ValueError):
    """An attribution cannot be computed as asked (bad setting, wrong input shape, unknown target)."""


class MethodUnavailable(ExplainError):
    """The chosen method cannot work on this model (for example Grad-CAM without a feature map)."""
