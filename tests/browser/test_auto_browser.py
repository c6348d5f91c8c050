"""Real-browser test of the auto recipe on the Train page (the harness of ``tests/browser/test_browser.py``).

The demo -> Train: auto is preselected -> only the MLP-head candidates, 3 folds, 64 px images (the whole default
search takes minutes on 2 cores) -> Start -> the live leaderboard appears with a candidate running -> the result:
the reason sentence, the final leaderboard and the table -> "Open as its own training" on the plain MLP head -> the
form shows that candidate's strategy, head, learning rate, epochs and augmentation.

Screenshots go to ``$TLCORE_SCREENSHOTS`` (default: a temporary folder) as ``auto-ui-*.png``.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.test_browser import (  # noqa: F401  (browser and shots are fixtures)
    CHROMIUM,
    _streamlit,
    browser,
    fill_number,
    open_app,
    settle,
    shots,
)

AUTO_TIMEOUT_MS = 900_000  # generous: a cold feature pass over the digits and the folds on 2 busy shared cores
PERCENT = re.compile(r"\d+\.\d%")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app on a fresh workspace, for this module."""
    with _streamlit(tmp_path_factory) as url:
        yield url


def chosen(page, label: str) -> str:
    """What the select box labelled ``label`` shows."""
    return page.get_by_role("combobox", name=label).input_value()


def plot(page, title: str):
    return page.locator(".js-plotly-plot").filter(has_text=title)


def keep_only_kind(page, keep: str) -> None:
    """Remove every kind of candidate from the multiselect but ``keep``."""
    kinds = page.locator("[data-testid='stMultiSelect']").filter(has_text="Kinds of candidate")
    for label in kinds.locator("[data-tag] [title]").all_inner_texts():
        if label != keep:
            kinds.get_by_role("button", name=f"Remove {label}").click()
            settle(page)
    assert kinds.locator("[data-tag] [title]").all_inner_texts() == [keep]


def test_auto_is_preselected_its_leaderboard_fills_and_a_candidate_opens_as_a_training(browser, server, shots):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    context, page, _ = open_app(browser, server)
    try:
        page.get_by_role("button", name="Try the demo").click()
        settle(page)
        page.get_by_role("heading", name="Train").first.wait_for()
        assert chosen(page, "Strategy") == "auto"
        page.get_by_text("Let the workbench choose").wait_for()
        assert page.get_by_label("Time budget (seconds)", exact=True).input_value() == "300"
        assert page.get_by_label("Folds", exact=True).input_value() == "5"
        assert page.get_by_label("Epochs", exact=True).count() == 0  # auto decides epochs, rates, augmentation
        assert page.get_by_role("button", name="Find a learning rate").count() == 0
        keep_only_kind(page, "MLP head")
        fill_number(page, "Folds", 3)
        fill_number(page, "Image size (px, 0 = the backbone's own)", 64)
        page.screenshot(path=shots / "auto-ui-01-form.png", full_page=True)
        page.get_by_role("button", name="Start training").click()
        settle(page)

        live = plot(page, "Leaderboard so far")
        live.first.wait_for(timeout=AUTO_TIMEOUT_MS)
        live.filter(has_text="running…").first.wait_for(timeout=AUTO_TIMEOUT_MS)  # a candidate is being scored
        page.get_by_text("of the 5 min 0 s budget").first.wait_for()
        assert page.get_by_role("button", name="Cancel").count() == 1
        try:  # a done bar while the others (or the refit) still run, for the picture
            live.filter(has_text=PERCENT).first.wait_for(timeout=120_000)
        except PlaywrightTimeout:
            pass
        live.first.scroll_into_view_if_needed()
        page.screenshot(path=shots / "auto-ui-02-live.png", full_page=True)

        page.get_by_text("How auto chose").wait_for(timeout=AUTO_TIMEOUT_MS)
        page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=60_000)
        reason = page.locator("[data-testid='stAlert']").filter(has_text="mean cross-validated accuracy over 3 folds")
        reason.wait_for()
        assert reason.locator("strong, em, a").count() == 0  # plain words, not markup
        final = plot(page, "Final leaderboard").first
        final.wait_for()
        assert PERCENT.search(final.inner_text())
        page.locator("[data-testid='stMetric']").filter(has_text="Test accuracy").wait_for()
        final.scroll_into_view_if_needed()
        page.screenshot(path=shots / "auto-ui-03-result.png", full_page=True)

        row = page.locator("[data-testid='stHorizontalBlock']").filter(has_text="MLP head on efficientnet_lite0 —")
        row.get_by_role("button", name="Open as its own training").click()
        settle(page)
        notes = page.locator("[data-testid='stAlert']").filter(has_text="trained with in run")
        notes.last.wait_for()  # said next to the button too: the form is further up
        assert "The form is at the top of the Train page." in notes.last.inner_text()
        page.screenshot(path=shots / "auto-ui-04-opened-here.png")
        note = notes.first
        lr = re.search(r"head learning rate ([\d.e-]+)", note.inner_text()).group(1)
        assert chosen(page, "Strategy") == "feature-extraction"
        assert chosen(page, "Head") == "mlp"
        assert page.get_by_label("Epochs", exact=True).input_value() == "10"
        slider = page.locator("[data-testid='stSlider']").filter(has_text="Head learning rate")
        assert slider.locator("[data-testid='stSliderThumbValue']").inner_text() == lr  # the rate it found
        assert not page.get_by_role("checkbox", name="Horizontal flip").is_checked()  # it trained without
        assert page.get_by_role("button", name="Find a learning rate").count() == 1  # a manual strategy again
        note.scroll_into_view_if_needed()
        page.screenshot(path=shots / "auto-ui-05-opened.png", full_page=True)
        assert page.locator("[data-testid='stException']").count() == 0
    finally:
        context.close()
