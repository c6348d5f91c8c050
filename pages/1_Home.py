"""Home: what the workbench does, where this session stands, and a one-click demo."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from tlcore.runs.records import list_runs
from ui import datasets, state
from ui.text import md_escape

st.title("Transfer-learning workbench")
st.markdown(
    "Bring a few hundred labelled images and get an image classifier by re-using a network pretrained on "
    "ImageNet: pick a backbone, choose how much of it to fine-tune, and train — on a CPU, in minutes. "
    "Every run is saved with its settings, curves and test metrics so you can compare strategies side by side. "
    "Then use a model to classify new images, and see which classes it mixes up and why."
)

left, right = st.columns(2)
with left:
    st.subheader("Your dataset")
    dataset = state.current_dataset()
    if dataset is None:
        st.info("No dataset yet — load the demo or upload your own images on the Data page.", icon=":material/info:")
    else:
        st.text(dataset.name)
        c1, c2 = st.columns(2)
        c1.metric("Images", f"{len(dataset.records):,}")
        c2.metric("Classes", len(dataset.classes))
    if st.button("Try the demo", type="primary", key="home-demo",
                 help="Loads 1,797 handwritten digits and takes you to the Train page."):
        if datasets.load_demo() is not None:
            st.switch_page("pages/3_Train.py")
    st.page_link("pages/2_Data.py", label="Upload your own images", icon=":material/upload:")

with right:
    st.subheader("Latest runs")
    runs = list_runs(state.workspace())[:5]
    if not runs:
        st.info("No runs yet — train a model on the Train page and it will show up here.", icon=":material/info:")
    else:
        frame = pd.DataFrame([{
            "run": r.id, "dataset": r.dataset_name, "backbone": r.backbone, "strategy": r.strategy,
            "test accuracy": r.test_accuracy, "seconds": round(r.seconds or 0.0, 1),
        } for r in runs])
        st.dataframe(frame, hide_index=True, column_config={
            "test accuracy": st.column_config.NumberColumn(format="percent")})
        for r in runs:
            if r.damaged:  # listed with the reason, never deleted unless the user asks (on the Runs page)
                st.warning(md_escape(r.damaged))
        st.page_link("pages/6_Runs.py", label="All runs", icon=":material/table_chart:")

st.subheader("How it works")
st.markdown(
    "1. **Data** — load the demo or upload a zip with a folder per class (or images plus a CSV of labels).\n"
    "2. **Train** — pick a backbone and a strategy (feature extraction is the fast, safe start) and press Start.\n"
    "3. **Predict** — classify new images with a saved run.\n"
    "4. **Runs** — compare runs, download weights, delete what you don't need."
)
