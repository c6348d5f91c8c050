"""Train page: "Find a learning rate" runs the range test with the form's settings, shows the curve with the
suggestion marked, and fills the suggestion in as the head learning rate."""

from __future__ import annotations

import json

import pytest

from tests.app.conftest import open_page, run_until
from ui.lr_find import form_rate

TRAIN = "pages/3_Train.py"

pytestmark = pytest.mark.slow  # the range test runs in a job worker (a subprocess)


def quick_settings(at):
    at.selectbox(key="train-backbone").set_value("timm/test_efficientnet")
    at.selectbox(key="train-strategy").set_value("feature-extraction").run()  # auto (preselected) has no finder
    at.select_slider(key="train-batch").set_value(8)
    at.number_input(key="train-size").set_value(32)
    at.checkbox(key="aug-train-hflip").uncheck()
    at.slider(key="aug-train-rotation").set_value(0)
    at.slider(key="aug-train-scale").set_value(1.0)
    at.slider(key="aug-train-color").set_value(0.0)
    at.select_slider(key="train-head-lr").set_value(1e-4)
    return at.run()


def curve_specs(at) -> list[dict]:
    specs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    return [s for s in specs if s["layout"].get("xaxis", {}).get("type") == "log"]


def test_the_button_shows_the_curve_and_fills_the_suggested_rate(ws, dataset):
    at = quick_settings(open_page(TRAIN, tl_dataset_id=dataset.id))
    at.button(key="lr-find-start").click().run()
    assert not at.exception
    run_until(at, lambda a: bool(curve_specs(a)))
    assert not at.exception
    (spec,) = curve_specs(at)
    traces = {t["name"]: t for t in spec["data"]}
    assert set(traces) == {"loss", "smoothed loss", "suggested"}
    suggested = traces["suggested"]["x"][0]
    assert suggested in traces["smoothed loss"]["x"]
    assert any(f"Suggested head learning rate **{suggested:.2g}**" in c.value for c in at.caption)
    job = at.session_state["tl_train_config"]  # the settings the range test was started with
    assert job.backbone == "timm/test_efficientnet" and job.strategy.head_lr == 1e-4
    choice = form_rate(suggested)
    assert choice != 1e-4, "pick another starting rate: the suggestion would not change the form"
    use = at.button(key="lr-find-use")
    assert use.label == f"Use {choice:g} as the head learning rate"
    use.click().run()
    assert not at.exception
    assert at.select_slider(key="train-head-lr").value == choice
    assert at.session_state["tl_train_config"].strategy.head_lr == choice
    assert curve_specs(at)  # the curve stays while the form changes
