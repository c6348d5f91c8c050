"""Runs: every saved run in a sortable table; compare several, download or delete one."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from tlcore.errors import TlcoreError
from tlcore.runs.records import compare_runs, delete_run, list_runs, run_files
from ui import charts, downloads, models, state
from ui.text import md_escape

st.title("Runs")
ws = state.workspace()
runs = list_runs(ws)
if not runs:
    st.info("No runs yet — train a model on the Train page and it will be listed here.", icon=":material/info:")
    st.page_link("pages/3_Train.py", label="Go to Train", icon=":material/model_training:")
    st.stop()

damaged = {r.id: r.damaged for r in runs if r.damaged}  # listed, never deleted unless the user asks
for reason in damaged.values():
    st.warning(f"{md_escape(reason)} — select it to download its files or delete it.")
frame = pd.DataFrame([{
    "run": r.id, "created": pd.Timestamp(r.created, unit="s", tz="UTC").tz_localize(None), "dataset": r.dataset_name,
    "backbone": r.backbone, "strategy": r.strategy, "test accuracy": r.test_accuracy,
    "balanced accuracy": r.test_balanced_accuracy, "macro F1": r.test_macro_f1, "val accuracy": r.val_accuracy,
    "epochs": r.epochs, "seconds": round(r.seconds or 0.0, 1), "kind": r.kind,
    **({"problem": r.damaged} if damaged else {}),
} for r in runs])
percent = st.column_config.NumberColumn(format="percent")
st.caption("Click a column header to sort; tick rows to compare them below.")
generation = st.session_state.setdefault(state.RUNS_TABLE_GENERATION, 0)  # bumped on delete: clears the selection
table = st.dataframe(frame, hide_index=True, on_select="rerun", selection_mode="multi-row",
                     key=f"runs-table-{generation}",
                     column_config={"test accuracy": percent, "balanced accuracy": percent, "macro F1": percent,
                                    "val accuracy": percent,
                                    "created": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")})
downloads.csv_button("Runs table (CSV)", frame, "runs.csv", key="runs-csv")
selected = [frame["run"].iloc[i] for i in table.selection.rows if i < len(frame)]
if not selected:
    st.caption("No run selected.")
    st.stop()

try:
    records = compare_runs(ws, [r for r in selected if r not in damaged])
    files_of = {r: run_files(ws, r) if ws.runs.joinpath(r).is_dir() else {} for r in selected}
except TlcoreError as e:  # deleted meanwhile, e.g. from another browser tab
    st.warning(f"A selected run can't be read any more: {md_escape(str(e))}")
    st.stop()
st.subheader(f"Comparing {len(records)} run{'s' if len(records) > 1 else ''}")
labels = {rec["id"]: f"{rec['id']} {rec.get('strategy', '')}" for rec in records}
c1, c2 = st.columns(2)
c1.plotly_chart(charts.compare_curves_figure({labels[r["id"]]: r.get("history", []) for r in records},
                                             "val_accuracy"), key="runs-val-acc")
c2.plotly_chart(charts.compare_curves_figure({labels[r["id"]]: r.get("history", []) for r in records},
                                             "val_loss"), key="runs-val-loss")
metrics = pd.DataFrame([{
    "run": r["id"], "backbone": r.get("backbone"), "strategy": r.get("strategy"),
    **{k: (r.get("test_metrics") or {}).get(k) for k in ("accuracy", "balanced_accuracy", "macro_f1", "log_loss")},
    "best epoch": r.get("best_epoch"), "trainable params": r.get("trainable_params"),
    "augmentation": r.get("augmentation"), "seconds": round((r.get("timings") or {}).get("total", 0.0), 1),
} for r in records])
st.dataframe(metrics, hide_index=True)

st.subheader("One run")
run_id = st.selectbox("Run", selected, key="runs-one")
files = files_of[run_id]
c1, c2, c3, c4 = st.columns(4)
trained = "model.safetensors" in files and run_id not in damaged  # cv/compare records hold no model
if c1.button("Make it the current run", key="runs-current", disabled=run_id == state.current_run_id() or not trained,
             help=None if trained else "Only a training run has a model for Predict and Explain."):
    state.set_current_run(run_id)
    st.rerun()
for col, name, mime, label in ((c2, "model.safetensors", "application/octet-stream", "Download weights"),
                               (c3, "run.json", "application/json", "Download metadata")):
    if name in files:
        col.download_button(label, data=files[name].read_bytes, file_name=f"{run_id}-{name}", mime=mime,
                            on_click="ignore", key=f"runs-dl-{name}")
with c4.popover("Delete run"):
    st.text(f"Delete {run_id} for good?")
    if st.button("Yes, delete it", type="primary", key="runs-delete"):
        try:
            delete_run(ws, run_id)
        except TlcoreError as e:
            st.error(md_escape(str(e)))
        else:
            models.forget()
            if state.current_run_id() == run_id:
                state.set_current_run(None)
            st.session_state[state.RUNS_TABLE_GENERATION] = generation + 1
            st.rerun()
one = next((r for r in records if r["id"] == run_id), None)
if one is not None and one.get("auto"):
    from ui import auto_views

    with st.expander("How the auto recipe chose this model", expanded=True):
        auto_views.render(one)
