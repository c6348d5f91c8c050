"""Real-browser tests: start ``streamlit run app.py`` and drive Debian's Chromium with Playwright.

1. A new user's path: Try the demo -> train a short feature-extraction run -> test accuracy and confusion matrix
   -> predict on test images -> the run in the Runs table.
2. Two browser contexts (two users) import different datasets and train at the same time; each sees its own result;
   then both explain their own run's test images at the same time and each sees maps of its own run and classes.
3. ``scripts/start.sh`` as a person runs it listens on 127.0.0.1 only (the app has no sign-in).

Every request each page makes is recorded: none may leave 127.0.0.1 (an app that works offline fetches nothing from
font hosts or CDNs). The servers are started without ``--server.address``, as a person starts them.

Screenshots go to ``$TLCORE_SCREENSHOTS`` (default: a temporary folder) for a person to look at.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.synthetic import write_class_folder

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
TRAIN_TIMEOUT_MS = 900_000  # generous: a cold feature pass over the digits on 2 busy shared cores
EXPLAIN_TIMEOUT_MS = 300_000
# the line above an explained image: "<name> — predicted <class> (<p>%) · true: <class> ✓ · maps explain <class>"
EXPLAINED = re.compile(r"(?P<name>.+) — predicted (?P<predicted>.+) \(\d+%\) "
                       r"· true: (?P<true>.+) [✓✗] · maps explain (?P<target>.+)")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"streamlit did not become healthy within {timeout:g} s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def shots() -> Path:
    folder = Path(os.environ.get("TLCORE_SCREENSHOTS") or tempfile.mkdtemp(prefix="tlcore-shots-"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextlib.contextmanager
def _streamlit(tmp_path_factory, **extra_env: str):
    """The app on a free port with a fresh workspace; stopped (with its job workers) on exit."""
    workspace = tmp_path_factory.mktemp("browser-ws")
    log = tmp_path_factory.mktemp("browser-log") / "streamlit.log"
    port = _free_port()
    env = os.environ | {"TLCORE_WORKSPACE": str(workspace), "HF_HUB_OFFLINE": "1", **extra_env}
    env["TLCORE_PLUGINS"] = ",".join(  # without the tiny test backbones: the real user's catalogue
        n for n in env.get("TLCORE_PLUGINS", "").split(",") if n.strip() and n.strip() != "tests.plugins.backbones")
    with open(log, "wb") as out:
        proc = subprocess.Popen(  # as scripts/start.sh starts it: no --server.address (ui.serve picks loopback)
            [sys.executable, "-m", "ui.serve", "--server.headless", "true", "--server.port", str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield url
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def listening_addresses(pid: int) -> set[str]:
    """The local addresses of the TCP sockets process ``pid`` listens on (from /proc: its socket inodes)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:["):-1])
    found = set()
    for table, size in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # LISTEN
                    hex_address, hex_port = fields[1].split(":")
                    raw = bytes.fromhex(hex_address)
                    raw = b"".join(raw[i:i + 4][::-1] for i in range(0, size, 4))  # /proc prints 32-bit words
                    found.add(f"{ipaddress.ip_address(raw)}:{int(hex_port, 16)}")
    return found


def outward_address() -> str | None:
    """This machine's address on its network (not loopback), if it has one: what another machine would connect to."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: a UDP connect only picks the route, nothing is sent
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if ipaddress.ip_address(address).is_loopback else address


def record_requests(context) -> list[str]:
    """Every URL the pages of ``context`` request from now on (documents, scripts, fonts, icons, websockets)."""
    urls: list[str] = []
    context.on("request", lambda request: urls.append(request.url))
    context.on("websocket", lambda ws: urls.append(ws.url))
    return urls


def outside(urls: list[str]) -> list[str]:
    """The URLs that leave 127.0.0.1 (``data:`` and ``blob:`` URLs are made in the page and fetch nothing)."""
    return sorted({u for u in urls if urlsplit(u).scheme not in ("data", "blob")
                   and urlsplit(u).hostname != "127.0.0.1"})


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app shared by this module's tests."""
    with _streamlit(tmp_path_factory) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def settle(page, timeout: float = 120_000) -> None:
    """Wait until the script run triggered by the last action has finished."""
    page.wait_for_timeout(400)  # let the rerun start
    page.wait_for_selector(IDLE, timeout=timeout)


def open_app(browser, url: str):
    """A new browser context on the app: ``(context, page, every URL its pages request)``."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    requests = record_requests(context)
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector(IDLE, timeout=120_000)
    return context, page, requests


def go_to(page, title: str) -> None:
    page.locator("[data-testid='stSidebarNav']").get_by_text(title, exact=True).click()
    settle(page)
    page.get_by_role("heading", name=title).first.wait_for()


def fill_number(page, label: str, value: int) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")
    settle(page)


def pick(page, label: str, option: str) -> None:
    """Choose ``option`` in the select box labelled ``label``."""
    page.locator("[data-testid='stSelectbox']").filter(has_text=label).click()
    page.get_by_role("option", name=option, exact=True).click()
    settle(page)


def start_quick_training(page, epochs: int = 5, image_size: int = 96) -> None:
    """Feature extraction with the default offline backbone: a few epochs on small images."""
    page.get_by_role("heading", name="Train").first.wait_for()
    page.get_by_text("weights available offline").first.wait_for()
    pick(page, "Strategy", "feature-extraction")  # auto is preselected
    fill_number(page, "Epochs", epochs)
    page.get_by_text("More options").click()
    fill_number(page, "Image size (px, 0 = the backbone's own)", image_size)
    page.get_by_role("button", name="Start training").click()
    settle(page)


def screenshot_while_running(page, path: Path) -> None:
    """A screenshot of the live view, once it shows an ETA if it gets to (a warm cache can finish first)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    bar = page.locator("[data-testid='stProgress']").first
    try:
        page.locator("[data-testid='stProgress']").filter(has_text="left").first.wait_for(timeout=60_000)
    except PlaywrightTimeout:
        pass  # only the picture is affected
    if bar.is_visible():
        bar.scroll_into_view_if_needed()
    page.screenshot(path=path, full_page=True)


def wait_for_results(page) -> str:
    """Wait for the finished run; return the test accuracy as shown."""
    metric = page.locator("[data-testid='stMetric']").filter(has_text="Test accuracy")
    metric.wait_for(timeout=TRAIN_TIMEOUT_MS)
    page.wait_for_selector(IDLE, timeout=60_000)
    page.locator(".js-plotly-plot").filter(has_text="Confusion matrix").first.wait_for(timeout=60_000)
    return metric.locator("[data-testid='stMetricValue']").inner_text()


def percent(text: str) -> float:
    match = re.fullmatch(r"\s*([\d.]+)%\s*", text)
    assert match, f"not a percentage: {text!r}"
    return float(match.group(1)) / 100


def heatmap_ticks(page) -> set[str]:
    plot = page.locator(".js-plotly-plot").filter(has_text="Confusion matrix").first
    return {t.strip() for t in plot.locator(".xtick text").evaluate_all("els => els.map(e => e.textContent)")}


def explain_test_images(page) -> None:
    """On the Explain page, start maps (default methods and sanity check) for the current run's first test images."""
    go_to(page, "Explain")
    page.locator("[data-testid='stSelectbox']").filter(has_text="Show").click()
    page.get_by_role("option", name="All test images").click()
    settle(page)
    page.get_by_role("button", name="Explain", exact=True).click()


def explained_images(page) -> list[dict[str, str]]:
    """Wait for the maps; return each explained image's name and classes as the page shows them."""
    page.get_by_text("Can these maps be trusted?").wait_for(timeout=EXPLAIN_TIMEOUT_MS)
    page.wait_for_selector(IDLE, timeout=60_000)
    lines = page.locator("[data-testid='stMain'] [data-testid='stMarkdown']").filter(has_text="maps explain")
    out = []
    for text in lines.all_inner_texts():
        match = EXPLAINED.fullmatch(text.strip())
        assert match, f"unexpected line above an explained image: {text!r}"
        out.append(match.groupdict())
    return out


def test_demo_train_results_predict_runs(browser, server, shots):
    context, page, requests = open_app(browser, server)
    try:
        page.get_by_text("Transfer-learning workbench").first.wait_for()
        page.screenshot(path=shots / "01-home.png", full_page=True)
        page.get_by_role("button", name="Try the demo").click()
        settle(page)
        start_quick_training(page)
        screenshot_while_running(page, shots / "02-training.png")
        accuracy = percent(wait_for_results(page))
        assert accuracy > 0.5, f"feature extraction on the digits should beat chance by far, got {accuracy:.1%}"
        assert heatmap_ticks(page) == {str(d) for d in range(10)}
        page.get_by_text("Test images the model got most wrong").wait_for()
        page.locator(".js-plotly-plot").filter(has_text="Confusion matrix").first.scroll_into_view_if_needed()
        sidebar = page.locator("[data-testid='stSidebar']")
        assert "digits (demo)" in sidebar.inner_text()
        page.screenshot(path=shots / "03-results.png", full_page=True)

        go_to(page, "Predict")
        page.get_by_text("Images from the run's test split").click()
        settle(page)
        page.get_by_role("button", name="Predict").click()
        settle(page)
        page.get_by_text("Correct").first.wait_for()
        assert page.locator("[data-testid='stImage']").count() >= 12
        assert "digits (demo)" in sidebar.inner_text()  # the sidebar follows the user from page to page
        page.screenshot(path=shots / "04-predict.png", full_page=True)

        go_to(page, "Runs")
        page.get_by_text("Click a column header to sort").wait_for()
        assert page.locator("[data-testid='stDataFrame']").count() == 1
        page.locator("[data-testid='stDataFrame']").first.hover()  # its toolbar: search, but no raw CSV export
        page.get_by_role("button", name="Search").first.wait_for()
        assert page.get_by_role("button", name="Download as CSV").count() == 0
        page.get_by_role("button", name="Runs table (CSV)").wait_for()  # the safe one
        page.screenshot(path=shots / "05-runs.png", full_page=True)
        assert page.locator("[data-testid='stException']").count() == 0
        icon = page.evaluate("document.querySelector(\"link[rel='shortcut icon']\").href")
        assert icon.startswith(("data:", server)), icon  # the favicon is the app's own
        assert requests and outside(requests) == [], outside(requests)  # nothing left the machine
    finally:
        context.close()


HOSTILE = {"red": "**red**", "green": "<i>green", "blue": "blue"}  # class folder names that look like markup


def _colour_zip(tmp_path: Path) -> Path:
    """A zip of three colour classes whose folder names look like markdown and HTML."""
    root = write_class_folder(tmp_path / "colours", classes=tuple(HOSTILE), n_per_class=12, size=32)
    archive = tmp_path / "colours.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(root.rglob("*.png")):
            zf.write(path, f"{HOSTILE[path.parent.name]}/{path.name}")
    return archive


def test_two_sessions_train_at_the_same_time_and_each_sees_its_own_result(browser, server, shots, tmp_path):
    archive = _colour_zip(tmp_path)
    ctx_a, page_a, requests_a = open_app(browser, server)
    ctx_b, page_b, requests_b = open_app(browser, server)
    try:
        page_a.get_by_role("button", name="Try the demo").click()
        settle(page_a)

        go_to(page_b, "Data")
        page_b.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(str(archive))
        page_b.get_by_text("colours.zip").first.wait_for()
        settle(page_b)
        page_b.get_by_role("button", name="Import").click()
        settle(page_b)
        page_b.get_by_text("colours  (id").wait_for()
        page_b.get_by_text("**red** — 12 images", exact=True).wait_for()  # shown as typed, not as bold
        page_b.get_by_text("<i>green — 12 images", exact=True).wait_for()
        assert page_b.locator("[data-testid='stMain'] strong", has_text=re.compile(r"^red\b")).count() == 0
        assert page_b.locator("[data-testid='stMain'] i", has_text=re.compile(r"^green\b")).count() == 0
        caption = page_b.get_by_text(re.compile(r"^\*\*red\*\*/red_\d+\.png$")).first  # image captions too
        caption.wait_for()
        caption.scroll_into_view_if_needed()
        page_b.screenshot(path=shots / "06-second-session-upload.png", full_page=True)
        go_to(page_b, "Train")

        start_quick_training(page_a, epochs=2)
        start_quick_training(page_b, epochs=2)
        page_b.locator("[data-testid='stProgress']").first.scroll_into_view_if_needed()
        page_b.screenshot(path=shots / "07-second-session-queued.png", full_page=True)
        wait_for_results(page_a)
        wait_for_results(page_b)
        assert heatmap_ticks(page_a) == {str(d) for d in range(10)}
        assert heatmap_ticks(page_b) == set(HOSTILE.values())  # plotly shows the names as typed
        assert any("on digits (demo)" in t for t in page_a.locator("[data-testid='stText']").all_inner_texts())
        assert any("on colours" in t for t in page_b.locator("[data-testid='stText']").all_inner_texts())
        assert "colours" in page_b.locator("[data-testid='stSidebar']").inner_text()
        for name, page in (("08-session-a", page_a), ("09-session-b", page_b)):
            page.locator(".js-plotly-plot").filter(has_text="Confusion matrix").first.scroll_into_view_if_needed()
            page.screenshot(path=shots / f"{name}.png", full_page=True)

        page_b.reload()  # a refresh keeps the session's jobs, dataset and run (they live in the URL and on disk)
        page_b.wait_for_selector(IDLE, timeout=120_000)
        wait_for_results(page_b)
        assert heatmap_ticks(page_b) == set(HOSTILE.values())

        explain_test_images(page_a)  # both sessions explain their own run at the same time
        explain_test_images(page_b)
        digits, colours = {str(d) for d in range(10)}, set(HOSTILE.values())
        for page, classes, dataset, other in ((page_a, digits, "digits (demo)", colours),
                                              (page_b, colours, "colours", digits)):
            shown = explained_images(page)
            assert len(shown) == 4 and page.locator("[data-testid='stMain'] [data-testid='stImage']").count() == 12
            assert all(s["predicted"] in classes and s["true"] in classes and s["target"] == s["predicted"]
                       for s in shown), shown
            assert not any(s["predicted"] in other or s["true"] in other for s in shown), shown
            run = page.get_by_role("combobox", name="Run").input_value()
            assert run.endswith(f" · {dataset}")  # each session's own run, the one it just trained
            assert run.split(" · ")[0] in page.locator("[data-testid='stSidebar']").inner_text()
            page.locator("[data-testid='stMain'] [data-testid='stMarkdown']").filter(
                has_text="maps explain").first.evaluate("e => e.scrollIntoView({block: 'start'})")  # for the shots
        names_b = [s["name"] for s in explained_images(page_b)]
        assert all(n.split("/")[0] in HOSTILE.values() for n in names_b), names_b  # names and classes as typed
        assert any(n.startswith(("**red**/", "<i>green/")) for n in names_b), names_b
        main_b = page_b.locator("[data-testid='stMain']")
        assert main_b.locator("strong, em, b", has_text=re.compile(r"^(red|green)$")).count() == 0
        assert main_b.locator("i", has_text=re.compile(r"^green")).count() == 0  # "<i>green" was not rendered
        assert "digits" not in main_b.inner_text()
        assert "colours" not in page_a.locator("[data-testid='stMain']").inner_text()
        for name, page in (("11-session-a-explain", page_a), ("12-session-b-explain", page_b)):
            page.screenshot(path=shots / f"{name}.png", full_page=True)
        assert outside(requests_a + requests_b) == []  # upload, training, results and maps: all from this machine
    finally:
        ctx_a.close()
        ctx_b.close()


def test_a_page_url_opened_first_after_a_restart_still_goes_through_the_router(browser, tmp_path_factory, shots):
    # A fresh server routes its first run the pages/-folder way: without care, a page URL opened first runs that
    # script without app.py's frame, or (with our lower-case URLs) shows "Page not found" over the right page
    with _streamlit(tmp_path_factory) as url:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            page = context.new_page()
            page.goto(f"{url}/data")
            page.get_by_text("Current dataset").first.wait_for(timeout=120_000)  # app.py's sidebar is there
            page.wait_for_selector(IDLE, timeout=120_000)
            nav = page.locator("[data-testid='stSidebarNav']").inner_text()
            assert "Cross-validation" in nav and "app" not in nav.split()  # app.py's navigation, not the folder's
            page.get_by_role("heading", name="Data").first.wait_for()
            page.wait_for_timeout(1500)  # the dialog, if any, comes with the first run's messages
            assert page.get_by_text("Page not found").count() == 0  # ui.serve: no dialog from the folder router
            page.screenshot(path=str(shots / "10-direct-page-url.png"))
        finally:
            context.close()


def test_start_sh_listens_on_loopback_only_and_fetches_nothing_from_outside(browser, tmp_path, shots):
    # A fresh `scripts/start.sh`, exactly as a person runs it (install check, demo import, ui.serve, no options)
    port = _free_port()
    log = tmp_path / "start.log"
    env = os.environ | {"TLCORE_WORKSPACE": str(tmp_path / "ws"), "HF_HUB_OFFLINE": "1", "PORT": str(port),
                        "PYTHON": sys.executable}
    env.pop("STREAMLIT_SERVER_ADDRESS", None)
    with open(log, "wb") as out:
        proc = subprocess.Popen(["bash", str(ROOT / "scripts" / "start.sh")], cwd=tmp_path, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log, timeout=300.0)  # start.sh first checks the install and imports the demo
        assert listening_addresses(proc.pid) == {f"127.0.0.1:{port}"}  # start.sh execs the server: same process
        other = outward_address()
        if other is not None:  # what another machine would connect to
            with pytest.raises(OSError):
                socket.create_connection((other, port), timeout=5).close()
        context, page, requests = open_app(browser, url)
        try:
            page.get_by_text("Transfer-learning workbench").first.wait_for()
            assert "digits (demo)" in page.locator("[data-testid='stSidebar']").inner_text()  # start.sh imported it
            page.screenshot(path=shots / "13-start-sh-home.png", full_page=True)
            assert outside(requests) == []
        finally:
            context.close()
    finally:
        _stop(proc)


def test_an_upload_over_the_cap_is_refused_as_it_arrives(browser, tmp_path_factory, tmp_path, shots):
    # Streamlit keeps uploads in the server's memory: over the cap, they are dropped before anyone presses Import
    big = tmp_path / "big.zip"
    big.write_bytes(os.urandom(1_500_000))
    with _streamlit(tmp_path_factory, TLCORE_MAX_UPLOAD_MB="1") as url:
        context, page, _ = open_app(browser, url)
        try:
            go_to(page, "Data")
            page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(str(big))
            alert = page.get_by_text("The upload was refused")
            alert.wait_for(timeout=60_000)
            assert "the limit is 1.0 MiB (TLCORE_MAX_UPLOAD_MB)" in alert.inner_text()
            settle(page)
            assert page.get_by_text("big.zip").count() == 0  # the uploader was emptied
            assert page.get_by_role("button", name="Import").is_disabled()
            page.screenshot(path=shots / "14-upload-refused.png", full_page=True)
        finally:
            context.close()
