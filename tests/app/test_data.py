"""Data page: empty state, demo, zip and CSV uploads with their report, upload caps, names shown as text only."""

from __future__ import annotations

import json

import pytest

from tests.app.conftest import class_zip, markdowns, open_page, png_bytes, texts
from tlcore.data.augment import AugmentConfig

DATA = "pages/2_Data.py"
HOSTILE = {"<b>x": (200, 40, 40), "**y**": (40, 60, 200)}  # folder names can't hold "/"; the CSV test has </b>


def upload(at, files):
    at.file_uploader(key=f"data-upload-{at.session_state['tl_upload_generation']}").set_value(files)
    return at.run()


def plotly_specs(at) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def test_fresh_workspace_shows_the_empty_state(ws):
    at = open_page(DATA)
    assert not at.exception
    assert any("No dataset yet" in s for s in markdowns(at))
    assert at.button(key="data-import").disabled  # nothing uploaded yet


def test_the_demo_shows_report_counts_samples_and_augmentation_preview(ws):
    at = open_page(DATA)
    at.radio(key="data-source").set_value("Demo dataset").run()
    at.button(key="data-demo").click().run()
    assert not at.exception
    assert at.metric[0].value == "1,797" and at.metric[1].value == "10"
    assert "digits (demo)  (id %s)" % at.session_state["tl_dataset_id"] in texts(at)
    counts = plotly_specs(at)[0]["data"][0]
    assert counts["x"] == [str(d) for d in range(10)] and sum(counts["y"]) == 1797
    assert sum(t.endswith(" images") and " — " in t for t in texts(at)) == 10  # a sample row per class
    assert len(at.image) == 10 * 6 + 7  # six samples per class + the original and six augmented views
    preview = [t for t in texts(at) if t.startswith("Image: ")]
    default = AugmentConfig().describe()  # the demo gets the same defaults as any dataset and the CLI
    assert preview and f"augmentations: {default}" in preview[0]
    at.checkbox(key="aug-data-hflip").uncheck().run()
    assert "augmentations: rotation" in [t for t in texts(at) if t.startswith("Image: ")][0]
    assert not at.session_state["tl_augment"].hflip  # shared with the Train page


def test_zip_upload_reports_skipped_files_and_never_renders_names_as_markup(ws, released):
    data = class_zip(HOSTILE, n_per_class=6, extra={"<b>x/broken.png": b"not really a png",
                                                    "readme.txt": b"hello", "__MACOSX/._junk": b"x"})
    at = open_page(DATA)
    at = upload(at, [("hostile.zip", data, "application/zip")])
    at.button(key="data-import").click().run()
    assert not at.exception
    dataset_id = at.session_state["tl_dataset_id"]
    assert dataset_id
    assert at.metric[0].value == "12" and at.metric[1].value == "2"
    skipped = at.dataframe[0].value
    reasons = dict(zip(skipped["file"], skipped["reason"]))
    assert "<b>x/broken.png" in reasons and "readme.txt" in reasons
    assert "<b>x — 6 images" in texts(at) and "**y** — 6 images" in texts(at)
    for shown in markdowns(at):  # anything rendered as markdown must have the names escaped
        assert "<b>x" not in shown and "**y**" not in shown
    bars = plotly_specs(at)[0]["data"][0]["x"]
    assert set(bars) == {"&lt;b&gt;x", "**y**"}  # plotly renders tags, not asterisks
    assert list(ws.uploads.iterdir()) == []  # the spooled upload is gone after the import
    assert not any(isinstance(v, (bytes, bytearray, memoryview)) for v in at.session_state.to_dict().values())
    assert at.session_state["tl_upload_generation"] == 1  # the uploader was reset
    assert len(released) == 1 and released[-1][1] == 0  # and the server's copy of the bytes freed at once


def test_images_plus_csv_upload_with_markup_in_labels(ws):
    files = [(f"img{i}.png", png_bytes((200, 40, 40) if i % 2 else (40, 60, 200), seed=i), "image/png")
             for i in range(8)]
    labels = ("<b>x</b>", "**y**")
    csv = "file,label\n" + "".join(f"img{i}.png,{labels[i % 2]}\n" for i in range(8)) + "gone.png,**y**\n"
    at = open_page(DATA)
    at = upload(at, files + [("labels.csv", csv.encode(), "text/csv")])
    at.button(key="data-import").click().run()
    assert not at.exception
    assert at.metric[0].value == "8" and at.metric[1].value == "2"
    assert "gone.png" in list(at.dataframe[0].value["file"])  # listed in the CSV but not uploaded
    assert "<b>x</b> — 4 images" in texts(at) and "**y** — 4 images" in texts(at)
    for shown in markdowns(at):
        assert "<b>x</b>" not in shown and "**y**" not in shown
    assert set(plotly_specs(at)[0]["data"][0]["x"]) == {"&lt;b&gt;x&lt;/b&gt;", "**y**"}
    at.selectbox(key="data-preview-class").set_value(0).run()  # the preview's class picker shows names as text
    assert at.selectbox(key="data-preview-class").options == ["**y**", "<b>x</b>"]


@pytest.mark.parametrize("env, value, expected", [("TLCORE_MAX_UPLOAD_FILES", "3", "the limit is 3"),
                                                  ("TLCORE_MAX_UPLOAD_MB", "1", "the limit is 1.0 MiB")])
def test_an_upload_over_a_cap_is_refused_as_it_arrives(ws, monkeypatch, released, env, value, expected):
    # without pressing Import: Streamlit holds uploads in the server's memory until they are dropped
    monkeypatch.setenv(env, value)
    big = [(f"img{i}.bin", bytes(300_000), "application/octet-stream") for i in range(4)]
    at = open_page(DATA)
    at = upload(at, big)
    assert not at.exception
    errors = [e.value.replace("\\", "") for e in at.error]
    assert any(expected in e and env in e for e in errors), errors  # names the cap and the setting
    assert len(released) == 4 and released[-1][1] == 0  # every file left the server's memory at once
    assert at.session_state["tl_upload_generation"] == 1  # the uploader was cleared
    assert not at.file_uploader(key="data-upload-1").value and at.button(key="data-import").disabled
    assert at.session_state["tl_dataset_id"] is None
    assert list(ws.uploads.iterdir()) == []
    at.run()
    assert not at.error  # the message is shown once


def test_an_upload_under_the_caps_is_kept(ws, monkeypatch, released):
    monkeypatch.setenv("TLCORE_MAX_UPLOAD_MB", "1")
    at = upload(open_page(DATA), [(f"img{i}.bin", bytes(300_000), "application/octet-stream") for i in range(3)])
    assert not at.exception and not at.error and not released
    assert len(at.file_uploader(key="data-upload-0").value) == 3 and not at.button(key="data-import").disabled


def test_import_checks_the_caps_again(ws):
    from tlcore.data.limits import ImportLimits
    from tlcore.errors import DatasetError
    from ui.uploads import spool

    class Upload:  # what spool reads of an UploadedFile
        name, size = "big.bin", 2_000_000

        def getbuffer(self):
            return memoryview(bytes(self.size))

    with pytest.raises(DatasetError, match="the limit is 1.0 MiB"):
        spool(ws, [Upload()], ImportLimits(max_total_bytes=2**20, max_files=10))
    assert list(ws.uploads.iterdir()) == []  # refused before anything was written
