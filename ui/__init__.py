"""Streamlit glue for the workbench pages: session state, sidebar, jobs, charts, images, uploads and downloads.

Everything here is UI only; the work itself is done by :mod:`tlcore`.
"""
