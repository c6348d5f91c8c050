"""Session state: the workspace, this browser session's owner id, and the current dataset and run.

Lasting values live under the ``tl_*`` keys below (widget-keyed state is dropped when a widget is not drawn).
The owner id, dataset id and run id are mirrored into the page URL's query parameters, so a browser refresh
finds the same jobs, dataset and run again; a new browser (or a private window) gets a new owner id.
"""

from __future__ import annotations

import logging
import re
import uuid

import streamlit as st

from tlcore.runs.records import repair_index
from tlcore.workspace import Workspace, default_workspace

log = logging.getLogger(__name__)

OWNER = "tl_owner"  # per-browser-session id: who owns the jobs this session submits
DATASET_ID = "tl_dataset_id"  # the current dataset's id
RUN_ID = "tl_run_id"  # the current run's id
PREDICTIONS = "tl_predictions"  # the Predict page's last result (ui.predictions.PredictionSet)
PREDICT_SEED = "tl_predict_seed"  # bumped per prediction from the test split: a new sample each time
PREDICT_UPLOAD_GENERATION = "tl_predict_upload_generation"  # bumped after a prediction to clear its uploader
EVENT_CACHE = "tl_event_cache"  # job id -> events read so far (incremental polling)
UPLOAD_GENERATION = "tl_upload_generation"  # bumped after an import to clear the file uploaders
SAMPLE_SEED = "tl_sample_seed"  # which sample images the Data page shows
TRAIN_ADOPTED = "tl_train_adopted"  # id of the last finished training job whose run became the current run
RUNS_TABLE_GENERATION = "tl_runs_table_generation"  # bumped after a delete to clear the Runs table's selection
AUGMENT = "tl_augment"  # the augmentations switched on (tlcore.data.augment.AugmentConfig), shared by Data and Train

_QUERY_KEYS = {OWNER: "session", DATASET_ID: "dataset", RUN_ID: "run"}
_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{4,64}$")


@st.cache_resource(show_spinner=False)
def _workspace_at(root: str) -> Workspace:
    """The workspace at ``root``, opened once per server process: its run index is repaired here, at start-up,
    since reads (the Runs table, the sidebar) never write."""
    ws = default_workspace(root)
    repair_index(ws)
    return ws


def workspace() -> Workspace:
    """The workspace (``$TLCORE_WORKSPACE`` or the default location); folders are made once per process."""
    return _workspace_at(str(default_workspace().root))


def init_session() -> None:
    """Fill the lasting keys on a session's first run (from the URL if it has them) and mirror them back."""
    for key, param in _QUERY_KEYS.items():
        if key not in st.session_state:
            value = st.query_params.get(param)
            st.session_state[key] = value if value and _ID_PATTERN.match(value) else None
    if not st.session_state[DATASET_ID] and not st.session_state[OWNER]:
        st.session_state[DATASET_ID] = _newest_dataset_id()  # a new visit starts on the latest import
    if not st.session_state[OWNER]:
        st.session_state[OWNER] = uuid.uuid4().hex
    st.session_state.setdefault(UPLOAD_GENERATION, 0)
    st.session_state.setdefault(EVENT_CACHE, {})
    _sync_query_params()


def _newest_dataset_id() -> str | None:
    from tlcore.data import list_datasets

    datasets = list_datasets(workspace())
    return datasets[0].id if datasets else None


def _sync_query_params() -> None:
    for key, param in _QUERY_KEYS.items():
        value = st.session_state.get(key)
        if value and st.query_params.get(param) != value:
            st.query_params[param] = value
        elif not value and param in st.query_params:
            del st.query_params[param]


def owner() -> str:
    """This browser session's owner id for jobs."""
    if not st.session_state.get(OWNER):
        init_session()
    return st.session_state[OWNER]


def current_dataset_id() -> str | None:
    """The id of the dataset this session works on, or None."""
    return st.session_state.get(DATASET_ID)


def set_current_dataset(dataset_id: str | None) -> None:
    """Make ``dataset_id`` the current dataset."""
    st.session_state[DATASET_ID] = dataset_id
    _sync_query_params()


def current_run_id() -> str | None:
    """The id of the run this session looks at, or None."""
    return st.session_state.get(RUN_ID)


def set_current_run(run_id: str | None) -> None:
    """Make ``run_id`` the current run."""
    st.session_state[RUN_ID] = run_id
    _sync_query_params()


@st.cache_resource(show_spinner=False, max_entries=16)
def _dataset(root: str, dataset_id: str):
    from tlcore.data import load_dataset

    return load_dataset(Workspace(root), dataset_id)


def load_dataset_cached(dataset_id: str):
    """The dataset ``dataset_id`` (datasets never change once imported, so one copy serves every session).

    Raises:
        DatasetError: no such dataset, or its manifest is unreadable.
    """
    return _dataset(str(workspace().root), dataset_id)


def current_dataset():
    """The current dataset (a :class:`tlcore.data.Dataset`), or None if there is none or it is gone."""
    from tlcore.errors import TlcoreError

    dataset_id = current_dataset_id()
    if not dataset_id:
        return None
    try:
        return load_dataset_cached(dataset_id)
    except (TlcoreError, OSError) as e:
        log.warning("current dataset %s cannot be loaded: %s", dataset_id, e)
        set_current_dataset(None)
        return None


def current_run_record() -> dict | None:
    """The current run's JSON record (no model loaded), or None if there is none or it was deleted."""
    from tlcore.errors import TlcoreError
    from tlcore.runs.records import get_run

    run_id = current_run_id()
    if not run_id:
        return None
    try:
        return get_run(workspace(), run_id)
    except (TlcoreError, OSError, ValueError) as e:
        log.warning("current run %s cannot be read: %s", run_id, e)
        set_current_run(None)
        return None
