"""tlcore: the transfer-learning workbench's headless engine (no Streamlit in here).

Importing it changes nothing in the process; entry points call :func:`tlcore.runtime.setup` first.
The layers, bottom to top, are in docs/DESIGN.md.
"""

from __future__ import annotations

__version__ = "0.1.0"
