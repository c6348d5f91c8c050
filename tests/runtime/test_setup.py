"""runtime.setup(): importing tlcore changes nothing; setup tunes malloc, sizes threads and loads plugins."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.runtime.conftest import ROOT, SETUP, STATUS, fresh_python


def test_importing_tlcore_changes_nothing_in_the_process():
    code = ("import os, json, tlcore, tlcore.runtime.allocator as a; print(json.dumps([a.allocator_status(), "
            "os.environ.get('OMP_WAIT_POLICY'), os.environ.get('OMP_NUM_THREADS')]))")
    assert json.loads(fresh_python(code)) == ["not applied yet", None, None]


def test_setup_tunes_malloc_without_loading_torch():
    status, torch_loaded = json.loads(fresh_python(SETUP + STATUS))
    assert status == "mallopt" and not torch_loaded  # the app's first page stays light


@pytest.mark.slow  # a fresh interpreter that imports torch
def test_setup_sizes_torch_threads_before_and_after_torch_loads():
    code = "import torch; print(torch.get_num_threads())"
    assert fresh_python(SETUP + code, TLCORE_THREADS="1") == "1"
    assert fresh_python("import torch; " + SETUP + code, TLCORE_THREADS="1") == "1"


def test_setup_imports_the_plugins_it_is_told_to(tmp_path):
    (tmp_path / "my_plugin.py").write_text("import os\nos.environ['MY_PLUGIN_LOADED'] = 'yes'\n")
    code = SETUP + "import os; print(os.environ.get('MY_PLUGIN_LOADED'))"
    assert fresh_python(code, TLCORE_PLUGINS="my_plugin", PYTHONPATH=f"{ROOT}:{tmp_path}") == "yes"
    with pytest.raises(subprocess.CalledProcessError) as failed:
        fresh_python(SETUP, TLCORE_PLUGINS="no_such_plugin_module")
    assert "TLCORE_PLUGINS: plugin module 'no_such_plugin_module' could not be imported" in failed.value.stderr
