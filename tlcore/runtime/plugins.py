"""Plugins: modules named in ``TLCORE_PLUGINS`` (comma-separated, importable), imported once by ``setup()``.

A plugin registers what it adds through the public registries (:func:`tlcore.models.registry.register_backbone`,
:func:`tlcore.jobs.registry.register_kind`) when it is imported. Job workers, CLI commands and the app's server
inherit the variable, so a plugin is there in every process of a session. The test suite registers its tiny
backbones and fault-injecting jobs this way.
"""

from __future__ import annotations

import importlib
import os

PLUGINS_ENV = "TLCORE_PLUGINS"


def plugin_names() -> list[str]:
    """The module names in ``TLCORE_PLUGINS``, in order, blanks dropped."""
    return [name.strip() for name in os.environ.get(PLUGINS_ENV, "").split(",") if name.strip()]


def load_plugins() -> list[str]:
    """Import every plugin module; returns their names.

    Raises:
        ImportError: naming ``TLCORE_PLUGINS`` and the module that could not be imported.
    """
    names = plugin_names()
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as e:
            raise ImportError(f"{PLUGINS_ENV}: plugin module {name!r} could not be imported: {e}") from e
    return names
