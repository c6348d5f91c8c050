"""Data: load the demo or upload images, read the import report, look at the classes and the augmentations."""

from __future__ import annotations

import random

import streamlit as st

from ui import datasets, forms, images, state, uploads

st.title("Data")
SOURCES = ("Upload images", "Demo dataset", "An earlier import")
source = st.radio("Where do the images come from?", SOURCES, horizontal=True, key="data-source")

if source == SOURCES[0]:
    limits = uploads.upload_limits()
    st.markdown(
        "Upload **one zip** with a folder per class (`cats/1.jpg`, `dogs/2.jpg`, …), **or** the images themselves "
        "plus a **CSV** with two columns: file name and label. Files that can't be used are listed with the reason."
    )
    key = f"data-upload-{st.session_state[state.UPLOAD_GENERATION]}"
    files = st.file_uploader(
        f"Zip, or images + CSV (at most {limits.max_files:,} files and {limits.max_total_bytes // 2**20:,} MiB "
        "in total)", accept_multiple_files=True, key=key,
        on_change=uploads.refuse_over_caps, args=(key, state.UPLOAD_GENERATION))  # over a cap: dropped at once
    uploads.show_refusal()
    name = st.text_input("Dataset name (optional)", key="data-name", max_chars=80)
    if st.button("Import", type="primary", disabled=not files, key="data-import"):
        if datasets.import_upload(files, name) is not None:
            st.rerun()  # clears the uploader (new key): the bytes are on disk and in the workspace now
elif source == SOURCES[1]:
    st.markdown("1,797 handwritten digits (0–9) from scikit-learn, 32×32 px: small enough to train in seconds.")
    if st.button("Load the demo dataset", type="primary", key="data-demo") and datasets.load_demo() is not None:
        st.rerun()  # redraw the sidebar with the new dataset
else:
    from tlcore.data import list_datasets

    known = list_datasets(state.workspace())
    if not known:
        st.info("No dataset has been imported into this workspace yet.")
    else:
        ids = [d.id for d in known]
        labels = {d.id: f"{d.name} — {len(d.records):,} images, {len(d.classes)} classes ({d.id})" for d in known}
        current = state.current_dataset_id()
        choice = st.selectbox("Dataset", ids, index=ids.index(current) if current in ids else 0,
                              format_func=labels.__getitem__, key="data-earlier")
        if st.button("Use this dataset", key="data-use", disabled=choice == current):
            state.set_current_dataset(choice)
            st.rerun()

dataset = state.current_dataset()
if dataset is None:
    st.info("No dataset yet — load the demo or upload one above.", icon=":material/info:")
    st.stop()

st.divider()
st.subheader("Import report")
st.text(f"{dataset.name}  (id {dataset.id})")
datasets.show_report(dataset, datasets.load_report(dataset.id))

st.subheader("Classes")
datasets.show_class_counts(dataset)

st.subheader("Sample images")
seed = st.session_state.setdefault(state.SAMPLE_SEED, 0)
if st.button("Other samples", key="data-resample"):
    st.session_state[state.SAMPLE_SEED] = seed = seed + 1
images.class_samples(dataset, per_class=6, seed=seed)

st.subheader("Augmentation preview")
st.caption("One image under the augmentations switched on: each view is a random draw, as in training.")
augment = forms.augment_controls("data")
class_index = st.selectbox("Class", range(len(dataset.classes)), format_func=lambda i: dataset.classes[i],
                           key="data-preview-class")
in_class = [r for r in dataset.records if r.label == class_index]
if in_class:
    record = random.Random(seed).choice(in_class)
    st.text(f"Image: {record.source_name}  ·  augmentations: {augment.describe()}")
    images.augmentation_preview(record.hash, augment, n=6, seed=seed)
st.page_link("pages/3_Train.py", label="Next: train a model", icon=":material/arrow_forward:")
