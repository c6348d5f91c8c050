"""Predict: pick a saved run, give it new images (or some from its test split), see the top-k classes."""

from __future__ import annotations

import streamlit as st

from tlcore.errors import TlcoreError
from tlcore.runs.records import list_runs
from ui import models, predictions, state, uploads
from ui.text import md_escape

st.title("Predict")
runs = list_runs(state.workspace(), kind="train")
if not runs:
    st.info("No saved runs yet — train a model first.", icon=":material/info:")
    st.page_link("pages/3_Train.py", label="Go to Train", icon=":material/model_training:")
    st.stop()

ids = [r.id for r in runs]
info = {r.id: r for r in runs}


def run_label(run_id: str) -> str:
    r = info[run_id]
    accuracy = f"{r.test_accuracy:.1%}" if r.test_accuracy is not None else "—"
    return f"{run_id} · {r.backbone} · {r.strategy} · {r.dataset_name} · test accuracy {accuracy}"


current = state.current_run_id()
run_id = st.selectbox("Run", ids, index=ids.index(current) if current in ids else 0, format_func=run_label,
                      key="predict-run")
if run_id != current:
    state.set_current_run(run_id)

SOURCES = ("Upload images", "Images from the run's test split")
source = st.radio("Images", SOURCES, horizontal=True, key="predict-source")
generation = st.session_state.setdefault(state.PREDICT_UPLOAD_GENERATION, 0)
if source == SOURCES[0]:
    key = f"predict-upload-{generation}"
    files = st.file_uploader(f"Images to classify (up to {predictions.MAX_IMAGES} at once)",
                             accept_multiple_files=True, key=key,
                             on_change=uploads.refuse_over_caps, args=(key, state.PREDICT_UPLOAD_GENERATION))
    uploads.show_refusal()
    ready = bool(files)
else:
    count = st.slider("How many test images", 1, 48, 12, key="predict-count")
    ready = True
top_k = st.slider("Top-k classes", 1, 10, 3, key="predict-topk-k")

if st.button("Predict", type="primary", disabled=not ready, key="predict-go"):
    try:
        with st.spinner("Loading the model…"):
            run = models.loaded_run(run_id)
        with st.spinner("Classifying…"):
            if source == SOURCES[0]:
                pictures, names, skipped = predictions.from_uploads(files)
                truth = [None] * len(pictures)
            else:
                seed = st.session_state.get(state.PREDICT_SEED, 0) + 1
                st.session_state[state.PREDICT_SEED] = seed
                pictures, names, truth = predictions.from_test_split(run, count, seed)
                skipped = []
            k = min(top_k, len(run.classes))
            st.session_state[state.PREDICTIONS] = predictions.predict(run, pictures, names, truth, k, skipped)
        if source == SOURCES[0]:
            uploads.release(files)  # free the server's copy of the uploaded bytes now
            st.session_state[state.PREDICT_UPLOAD_GENERATION] = generation + 1  # and clear the uploader
            st.rerun()
    except TlcoreError as e:
        st.error(f"Prediction failed: {md_escape(str(e))}")

result = st.session_state.get(state.PREDICTIONS)
if result is not None and result.run_id == run_id:
    st.divider()
    predictions.render(result)
elif result is None:
    st.caption("Choose images and press Predict.")
