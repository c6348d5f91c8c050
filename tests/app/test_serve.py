"""Starting the app (``ui.serve``, ``scripts/start.sh``, ``.streamlit/config.toml``): loopback only unless asked.

The server itself is started in ``tests/browser/test_browser.py`` (its listening sockets are checked there).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from ui.serve import with_default_address

ROOT = Path(__file__).resolve().parents[2]


def test_ui_serve_listens_on_loopback_unless_told_otherwise():
    assert with_default_address(["--server.port", "8501"], {}) == ["--server.port", "8501",
                                                                   "--server.address", "127.0.0.1"]


@pytest.mark.parametrize("args", [["--server.address", "0.0.0.0"], ["--server.address=0.0.0.0"],
                                  ["--server.port", "1", "--server.address", "::"]])
def test_an_address_on_the_command_line_wins(args):
    assert with_default_address(args, {}) == args


def test_streamlits_address_variable_wins():
    assert with_default_address(["--server.port", "8501"], {"STREAMLIT_SERVER_ADDRESS": "0.0.0.0"}) == [
        "--server.port", "8501"]
    assert with_default_address([], {"STREAMLIT_SERVER_ADDRESS": " "})[-1] == "127.0.0.1"  # blank is not a choice


def test_the_config_file_says_loopback_and_hides_raw_table_exports():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"  # a plain `streamlit run app.py` from the repo, too
    assert config["client"]["disableDataExport"] is True  # tables' own CSV export would write cells raw


def test_start_sh_goes_through_ui_serve_and_passes_options_on():
    script = (ROOT / "scripts" / "start.sh").read_text()
    assert '-m ui.serve --server.port "${PORT:-8501}" "$@"' in script
    assert "--server.address 0.0.0.0" in script and "STREAMLIT_SERVER_ADDRESS" in script  # how to open it up
