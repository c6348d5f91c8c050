"""tlcore: the transfer-learning workbench's headless engine (no Streamlit in here)."""

from __future__ import annotations

from tlcore.runtime.allocator import tune_allocator

tune_allocator()  # must run before torch is imported; see tlcore/_alloc.py

__version__ = "0.1.0"
