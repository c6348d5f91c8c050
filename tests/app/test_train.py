"""Train page: empty state, a quick training job end to end, a failing job shown with its reason, live job views."""

from __future__ import annotations

import json
import os
import signal
import time

import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.app.conftest import markdowns, open_page, run_until

TRAIN = "pages/3_Train.py"


def set_quick_settings(at, backbone: str = "timm/test_efficientnet", strategy: str = "feature-extraction"):
    at.selectbox(key="train-backbone").set_value(backbone)
    at.selectbox(key="train-strategy").set_value(strategy).run()  # auto is preselected: its own settings until now
    at.number_input(key="train-epochs").set_value(2)
    at.select_slider(key="train-batch").set_value(8)
    at.number_input(key="train-size").set_value(32)
    at.checkbox(key="train-early").uncheck()
    at.checkbox(key="aug-train-hflip").uncheck()
    at.slider(key="aug-train-rotation").set_value(0)
    at.slider(key="aug-train-scale").set_value(1.0)
    at.slider(key="aug-train-color").set_value(0.0)
    return at.run()


def has_results(at) -> bool:
    return any(m.label == "Test accuracy" for m in at.metric)


def test_without_a_dataset_the_page_says_what_to_do(ws):
    at = open_page(TRAIN)
    assert not at.exception
    assert any("No dataset yet" in s for s in markdowns(at))


def test_backbones_show_size_input_and_offline_status(ws, dataset):
    at = open_page(TRAIN, tl_dataset_id=dataset.id)
    assert not at.exception
    assert at.selectbox(key="train-backbone").value == "efficientnet_lite0"
    assert any("M parameters · 224 px input · weights available offline" in c.value for c in at.caption)
    options = at.selectbox(key="train-backbone").options
    assert "ResNet-18 (timm) (download needed)" in options
    assert "test_efficientnet (tiny, random weights: tests only)" in options  # registered by tests.plugins.backbones


def test_a_quick_training_job_ends_with_metrics_confusion_matrix_and_gallery(ws, dataset):
    at = open_page(TRAIN, tl_dataset_id=dataset.id)
    at = set_quick_settings(at)
    at.button(key="train-start").click().run()
    assert not at.exception
    run_until(at, has_results)
    assert not at.exception
    run_id = at.session_state["tl_run_id"]
    assert run_id and (ws.runs / run_id / "run.json").is_file()
    record = json.loads((ws.runs / run_id / "run.json").read_text())
    assert record["config"]["strategy"]["name"] == "feature-extraction" and len(record["history"]) == 2
    accuracy = next(m.value for m in at.metric if m.label == "Test accuracy")
    assert accuracy == f"{record['test_metrics']['accuracy']:.1%}"
    specs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    heatmaps = [s for s in specs if s["data"][0]["type"] == "heatmap"]
    assert len(heatmaps) == 1 and heatmaps[0]["data"][0]["x"] == ["blue", "green", "red"]
    per_class = at.dataframe[0].value
    assert list(per_class["class"]) == ["blue", "green", "red"]
    assert int(per_class["support"].sum()) == record["test_metrics"]["n"]
    assert not at.button(key="train-start").disabled  # finished: another run may start
    mb = record["cache_bytes"] / 2**20
    assert any("inputs: cached" in c.value and f"({mb:,.1f} MB cached)" in c.value for c in at.caption)


def test_a_failing_job_shows_its_reason_not_a_traceback(ws, dataset, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the worker must fail fast instead of trying the hub
    at = open_page(TRAIN, tl_dataset_id=dataset.id)
    at = set_quick_settings(at, backbone="timm/resnet18")
    assert any("only **scratch** can train it" in w.value for w in at.warning)
    at.button(key="train-start").click().run()
    run_until(at, lambda a: len(a.error) > 0)
    assert not at.exception
    message = at.error[0].value
    assert "The job failed" in message and "resnet18" in message and "Traceback" not in message


def live_app() -> None:
    import streamlit as st

    from ui import jobs

    if "job" not in st.session_state:
        st.session_state["job"] = jobs.submit("selftest", {"steps": 400, "delay": 0.05})

    def render(status, events):
        jobs.progress_bar(status)
        jobs.cancel_button(status)
        st.text(f"events: {len(events)}")

    status = jobs.live(st.session_state["job"], render)
    if not status.active:
        st.text(f"final: {status.state}")
        jobs.outcome(status)


def test_a_live_job_shows_progress_and_can_be_cancelled(ws):
    at = AppTest.from_function(live_app, default_timeout=60)
    at.run()
    run_until(at, lambda a: any(t.value.startswith("events:") and t.value != "events: 0" for t in a.text))
    assert at.button(key=f"cancel-{at.session_state['job']}").label == "Cancel"
    at.button(key=f"cancel-{at.session_state['job']}").click().run()
    run_until(at, lambda a: "final: cancelled" in [t.value for t in a.text])
    assert any("cancelled" in w.value for w in at.warning)


def test_tiny_test_backbones_are_hidden_from_normal_users(ws, dataset):
    from tlcore.models.registry import random_init_only, register_backbone, registered_backbones, unregister_backbone

    rows = [(spec, random_init_only(spec.name)) for spec in registered_backbones()]  # without the test plugin's rows
    for spec, _ in rows:
        unregister_backbone(spec.name)
    try:
        at = open_page(TRAIN, tl_dataset_id=dataset.id)
        assert not any("tests only" in o for o in at.selectbox(key="train-backbone").options)
    finally:
        for spec, random_init in rows:
            register_backbone(spec, random_init=random_init)


def start_long_job(ws, dataset):
    at = open_page(TRAIN, tl_dataset_id=dataset.id)
    at = set_quick_settings(at)
    at.number_input(key="train-epochs").set_value(200).run()
    at.button(key="train-start").click().run()
    from ui.jobs import _manager_for

    manager = _manager_for(str(ws.root))
    job = manager.list()[0]
    deadline = time.monotonic() + 120
    while manager.get(job.id).pid is None:  # wait for the worker to be up
        assert time.monotonic() < deadline
        time.sleep(0.2)
    return at, manager, manager.get(job.id)


def test_a_worker_that_dies_is_shown_as_failed_with_the_reason(ws, dataset):
    at, _, job = start_long_job(ws, dataset)
    os.kill(job.pid, signal.SIGKILL)
    run_until(at, lambda a: len(a.error) > 0)
    message = at.error[0].value.replace("\\", "")
    assert "The job failed" in message and "killed by signal 9" in message
    assert not at.button(key="train-start").disabled


def test_a_job_cut_short_by_a_server_stop_is_shown_as_interrupted(ws, dataset):
    at, manager, _ = start_long_job(ws, dataset)
    manager.close()  # what a server shutdown does to its jobs
    st.cache_resource.clear()  # the next run gets a new manager, as after a restart
    at.run()
    assert not at.exception
    warning = next(w.value for w in at.warning if "The job was interrupted" in w.value).replace("\\", "")
    assert "shut down while this job was running" in warning
