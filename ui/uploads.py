"""Browser uploads: cap the whole upload, spool it to disk under ``ws.uploads`` at once, import it from there.

Streamlit caps each file (``server.maxUploadSize``); the app caps the total size and the number of files with
:class:`tlcore.data.ImportLimits`: as files arrive (:func:`refuse_over_caps`, the uploader's ``on_change``: an upload
over a cap is dropped from the server's memory at once, not when Import is pressed) and again before a byte is
written. Uploaded bytes go to disk in chunks straight from ``UploadedFile.getbuffer()`` and are never kept in session
state; the spool folder is removed after the import.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from tlcore.data.limits import GIB, ImportLimits, human_bytes
from tlcore.errors import DatasetError

if TYPE_CHECKING:
    from streamlit.runtime.uploaded_file_manager import UploadedFile

    from tlcore.data import Dataset, ImportReport
    from tlcore.events import EventCallback
    from tlcore.workspace import Workspace

log = logging.getLogger(__name__)

REFUSED = "tl_upload_refused"  # the message for an upload that refuse_over_caps dropped, shown once by show_refusal
CHUNK = 1 << 20
MAX_UPLOAD_MB_ENV = "TLCORE_MAX_UPLOAD_MB"  # total size of one upload, in MiB
MAX_UPLOAD_FILES_ENV = "TLCORE_MAX_UPLOAD_FILES"  # files in one upload


def upload_limits() -> ImportLimits:
    """The app's caps on one upload: 1 GiB and 20,000 files unless the environment says otherwise."""
    total = int(os.environ.get(MAX_UPLOAD_MB_ENV, "0") or 0) * 1024 * 1024 or 1 * GIB
    files = int(os.environ.get(MAX_UPLOAD_FILES_ENV, "0") or 0) or 20_000
    return ImportLimits(max_total_bytes=total, max_files=files)


def check_upload(files: Sequence["UploadedFile"], limits: ImportLimits) -> None:
    """Refuse an upload with too many files or too many bytes in total, naming the figures.

    Raises:
        DatasetError: over a cap.
    """
    if len(files) > limits.max_files:
        raise DatasetError(f"the upload has {len(files):,} files; the limit is {limits.max_files:,} "
                           f"({MAX_UPLOAD_FILES_ENV}) — "
                           "upload a zip of class folders instead, or fewer files")
    total = sum(f.size for f in files)
    if total > limits.max_total_bytes:
        raise DatasetError(f"the upload is {human_bytes(total)} in total; the limit is "
                           f"{human_bytes(limits.max_total_bytes)} ({MAX_UPLOAD_MB_ENV})")


def refuse_over_caps(widget_key: str, generation_key: str) -> None:
    """``on_change`` of a multi-file uploader keyed ``widget_key``: refuse an upload over the app's caps as it arrives.

    Streamlit holds uploaded files in the server's memory until the browser drops them, so an upload over a cap is
    released from that memory at once and the uploader is cleared (``generation_key``, part of its key, is bumped);
    the reason, naming the cap, is kept for :func:`show_refusal`.
    """
    import streamlit as st

    files = list(st.session_state.get(widget_key) or [])
    try:
        check_upload(files, upload_limits())
    except DatasetError as e:
        release(files)
        st.session_state[generation_key] = st.session_state.get(generation_key, 0) + 1
        st.session_state[REFUSED] = f"{e}. Nothing was kept: upload fewer or smaller files, or one zip."
        log.warning("upload refused as it arrived: %s", e)


def release(files: Sequence["UploadedFile"]) -> None:
    """Drop uploaded files from the server's memory (Streamlit's upload store) now, not when the session ends."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    remove = getattr(ctx.uploaded_file_mgr, "remove_file", None) if ctx is not None else None  # the in-memory store
    if remove is None:
        return
    for f in files:
        remove(ctx.session_id, f.file_id)


def show_refusal() -> None:
    """The error for an upload that :func:`refuse_over_caps` dropped, once, under the (now empty) uploader."""
    import streamlit as st

    from ui.text import md_escape

    message = st.session_state.pop(REFUSED, None)
    if message:
        st.error(f"The upload was refused: {md_escape(message)}", icon=":material/block:")


def spool(ws: "Workspace", files: Sequence["UploadedFile"],
          limits: ImportLimits) -> tuple[Path, list[tuple[str, Path]]]:
    """Write the uploaded files to a new folder under ``ws.uploads``; return it and ``(upload name, path)`` pairs.

    Files are stored under numbered names (the uploaded names are metadata only, never paths).
    """
    check_upload(files, limits)
    folder = ws.uploads / uuid.uuid4().hex
    folder.mkdir(parents=True)
    pairs = []
    try:
        for i, f in enumerate(files):
            path = folder / f"{i:06d}.upload"
            buffer = f.getbuffer()
            with open(path, "wb") as out:
                for start in range(0, len(buffer), CHUNK):
                    out.write(buffer[start:start + CHUNK])
            pairs.append((f.name, path))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder, pairs


def import_upload(ws: "Workspace", files: Sequence["UploadedFile"], name: str | None = None,
                  on_event: "EventCallback | None" = None) -> tuple["Dataset", "ImportReport"]:
    """Spool an upload (a zip of class folders, or images plus a CSV of labels) and import it.

    Raises:
        DatasetError: over the app's caps, or nothing importable (the message says why).
    """
    from tlcore.data import import_files
    from tlcore.events import ignore_event

    if not files:
        raise DatasetError("nothing was uploaded")
    limits = upload_limits()
    folder, pairs = spool(ws, files, limits)
    try:
        return import_files(ws, pairs, name=name or None, limits=limits, on_event=on_event or ignore_event)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
