"""Home page: renders on a fresh workspace, the demo button loads the digits and leads to Train, runs are listed."""

from __future__ import annotations

from tests.app.conftest import markdowns, new_app, texts


def test_fresh_workspace_renders_with_helpful_empty_states(ws):
    at = new_app()
    at.run()
    assert not at.exception
    assert at.title[0].value == "Transfer-learning workbench"
    shown = markdowns(at)
    assert any("No dataset yet" in s for s in shown)
    assert any("No runs yet" in s for s in shown)
    assert any("None yet" in s for s in shown)  # the sidebar's empty state
    assert at.session_state["tl_owner"]  # this session got an owner id for its jobs


def test_try_the_demo_loads_the_digits_and_opens_train(ws):
    at = new_app()
    at.run()
    at.button(key="home-demo").click().run()
    assert not at.exception
    dataset_id = at.session_state["tl_dataset_id"]
    assert dataset_id and (ws.datasets / dataset_id / "manifest.json").is_file()
    assert at.title[0].value == "Train"
    assert any("digits (demo)" in t and "1,797 images" in t for t in texts(at))


def test_the_sidebar_shows_the_current_dataset_and_run(ws, dataset, run_id):
    # AppTest drops app.py's own elements after switch_page, so the sidebar is checked on the first page
    at = new_app(tl_dataset_id=dataset.id, tl_run_id=run_id)
    at.run()
    assert not at.exception
    sidebar = [t.value for t in at.sidebar.text]
    assert "colours" in sidebar
    assert any(run_id in t and "feature-extraction" in t for t in sidebar)
    assert any("30 images · 3 classes" in c.value for c in at.sidebar.caption)


def test_latest_runs_are_listed(ws, dataset, run_id):
    at = new_app()
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["run"]) == [run_id]
    assert table["dataset"][0] == "colours"


def test_a_new_visit_starts_on_the_newest_dataset(ws, dataset):
    at = new_app()
    at.run()
    assert not at.exception
    assert at.session_state["tl_dataset_id"] == dataset.id
    assert "colours" in [t.value for t in at.sidebar.text]
