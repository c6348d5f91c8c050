"""The CLI's frame: the commands on offer, ``--help``, exit codes, the workspace; no torch where nothing computes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT
from tlcore.cli.main import build_parser, main

# The README's contract: these commands, in this order
COMMANDS = ("import", "datasets", "backbones", "train", "lr-find", "evaluate", "predict", "runs", "show", "delete",
            "cv", "compare", "curve", "explain", "report")
HEAVY = ("torch", "torchvision", "timm")


def subcommands() -> list[str]:
    return list(next(a for a in build_parser()._actions if a.dest == "command").choices)


def test_the_commands_are_the_readmes():
    assert tuple(subcommands()) == COMMANDS


@pytest.mark.parametrize("argv", [["--help"]] + [[c, "--help"] for c in COMMANDS], ids=lambda a: " ".join(a))
def test_help_works_for_the_top_level_and_every_subcommand(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("usage: python -m tlcore")


@pytest.mark.slow  # subprocesses
@pytest.mark.parametrize("args, message", [
    (["import", "/no/such/folder"], "/no/such/folder: no such file or folder"),
    (["train", "--dataset", "0123456789abcdef"], "0123456789abcdef"),
    (["predict", "--run", "nope", "/no/image.png"], "/no/image.png: no such image file"),
    (["show", "--run", "nope"], "no run 'nope'"),
])
def test_bad_input_gives_a_clear_message_and_exit_code_1(tmp_path, args, message, run_cli):
    result = run_cli(*args, ws=tmp_path / "ws")
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow  # subprocesses
def test_usage_errors_exit_2_and_help_explains_options(tmp_path, run_cli):
    bad = run_cli("train", "--dataset", "x", "--strategy", "magic", ws=tmp_path / "ws")
    assert bad.returncode == 2 and "invalid choice: 'magic'" in bad.stderr
    helped = run_cli("train", "--help", ws=tmp_path / "ws")
    assert helped.returncode == 0
    for option in ("--strategy", "--backbone", "--epochs", "--seed", "--json", "--workspace", "--fine-tune-groups",
                   "--unfreeze-every", "--backbone-lr-ratio", "--patience", "--no-augment"):
        assert option in helped.stdout


@pytest.mark.slow  # subprocesses
def test_workspace_comes_from_the_environment_or_the_option(tmp_path, images, run_cli):
    env_ws, opt_ws = tmp_path / "env", tmp_path / "opt"
    run_cli("import", str(images), ws=env_ws)
    run_cli("import", str(images), "--workspace", str(opt_ws), ws=env_ws)
    assert any((env_ws / "datasets").iterdir()) and any((opt_ws / "datasets").iterdir())


def test_a_bad_thread_setting_is_an_input_error_naming_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TLCORE_THREADS", "many")
    assert main(["runs", "--workspace", str(tmp_path / "ws"), "--json"]) == 1
    captured = capsys.readouterr()
    assert "TLCORE_THREADS" in json.loads(captured.out)["error"] and "TLCORE_THREADS" in captured.err


# Commands that compute nothing load no torch, timm or torchvision

_PROBE = """
import contextlib, io, json, sys
from tlcore.cli.main import main
heavy, codes = {}, {}
for argv in json.loads(sys.argv[1]):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            codes[" ".join(argv)] = main(argv)
        except SystemExit as e:
            codes[" ".join(argv)] = e.code
    heavy[" ".join(argv)] = sorted(m for m in %r if m in sys.modules)
print(json.dumps({"codes": codes, "heavy": heavy}))
""" % (HEAVY,)


def _light_env(ws) -> dict:
    env = dict(os.environ, TLCORE_WORKSPACE=str(ws.root))
    env.pop("TLCORE_PLUGINS", None)  # as a user runs it: nothing but tlcore itself
    return env


def _one_run(ws, dataset) -> str:
    from tlcore.runs.records import write_run

    return write_run(ws, {"id": "20260101-000000-abcdef", "created": time.time(), "kind": "train",
                          "dataset_id": dataset.id, "backbone": "efficientnet_lite0", "strategy": "feature-extraction",
                          "test_metrics": {"accuracy": 0.5}, "timings": {"total": 1.0}})


@pytest.mark.slow  # a subprocess
def test_python_m_tlcore_help_exits_0_without_importing_torch(ws):
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "tlcore", "--help"], cwd=ROOT,
                            env=_light_env(ws), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "COMMAND" in result.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert not {m for m in imported if m.split(".")[0] in HEAVY}


@pytest.mark.slow  # a subprocess
def test_help_runs_datasets_show_delete_never_import_torch(ws, dataset):
    run_id = _one_run(ws, dataset)
    argvs = ([["--help"]] + [[c, "--help"] for c in COMMANDS]
             + [["runs"], ["runs", "--json"], ["datasets"], ["show", "--run", run_id],
                ["show", "--run", run_id, "--json"], ["delete", "--run", run_id], ["runs"]])
    result = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(argvs)], cwd=ROOT, env=_light_env(ws),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert set(report["codes"].values()) == {0}, report["codes"]
    assert {argv: mods for argv, mods in report["heavy"].items() if mods} == {}


# The workspace: read-only commands create nothing; bad places are refused with a message naming them

READERS = [["show", "--run", "r"], ["delete", "--run", "r"], ["evaluate", "--run", "r"],
           ["predict", "--run", "r", __file__], ["report", "--run", "r", "--out", "r.html"],
           ["explain", "--run", "r", "--method", "gradcam", "--out", "o", __file__]]


def _main(argv, capsys) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


@pytest.mark.parametrize("argv", READERS, ids=lambda a: a[0])
def test_a_read_only_command_at_a_missing_workspace_says_so_and_creates_nothing(argv, tmp_path, capsys):
    missing = tmp_path / "no" / "such" / "ws"
    code, _, err = _main([*argv, "--workspace", str(missing)], capsys)
    assert code == 1 and f"no workspace at {missing}" in err
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("command, key", [("datasets", "datasets"), ("runs", "runs")])
def test_listing_a_missing_workspace_lists_nothing_clearly_and_creates_nothing(command, key, tmp_path, capsys):
    missing = tmp_path / "no" / "ws"
    code, out, err = _main([command, "--workspace", str(missing)], capsys)
    assert code == 0 and out == "" and f"no workspace at {missing}" in err
    code, out, _ = _main([command, "--json", "--workspace", str(missing)], capsys)
    assert code == 0 and json.loads(out)[key] == [] and not json.loads(out).get("damaged")
    assert not (tmp_path / "no").exists()


@pytest.mark.slow  # walks the backbone catalogue
def test_backbones_needs_no_workspace_and_creates_none(tmp_path, capsys):
    code, out, _ = _main(["backbones", "--workspace", str(tmp_path / "no")], capsys)
    assert code == 0 and "efficientnet_lite0" in out and not (tmp_path / "no").exists()


def test_import_creates_the_workspace(tmp_path, images, capsys):
    ws = tmp_path / "new" / "ws"
    code, out, _ = _main(["import", str(images), "--workspace", str(ws)], capsys)
    assert code == 0 and len(out.strip()) == 16 and (ws / "datasets").is_dir()


@pytest.mark.parametrize("argv", [["datasets"], ["runs"], ["import", "demo"], ["show", "--run", "r"]],
                         ids=lambda a: a[0])
def test_a_workspace_that_is_a_file_is_refused_by_name(argv, tmp_path, capsys):
    file = tmp_path / "notes.txt"
    file.write_text("not a folder")
    code, _, err = _main([*argv, "--workspace", str(file)], capsys)
    assert code == 1 and f"{file}: is a file" in err
    assert file.read_text() == "not a folder"


@pytest.mark.parametrize("argv", [["datasets"], ["import", "demo"], ["runs", "--json"]], ids=lambda a: a[0])
def test_an_empty_workspace_path_is_refused_and_nothing_appears_in_the_current_folder(argv, tmp_path, monkeypatch,
                                                                                         capsys):
    monkeypatch.chdir(tmp_path)
    code, _, err = _main([*argv, "--workspace", ""], capsys)
    assert code == 1 and "--workspace is empty" in err
    monkeypatch.setenv("TLCORE_WORKSPACE", "")
    code, _, err = _main(argv, capsys)
    assert code == 1 and "TLCORE_WORKSPACE is set but empty" in err
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_workspace_is_refused_for_writing_and_still_read(read_only_folder, images, capsys):
    code, _, err = _main(["import", str(images), "--workspace", str(read_only_folder)], capsys)
    assert code == 1 and str(read_only_folder) in err and ("not writable" in err or "cannot create" in err)
    code, _, err = _main(["delete", "--run", "r", "--workspace", str(read_only_folder)], capsys)
    assert code == 1 and str(read_only_folder) in err
    code, out, err = _main(["datasets", "--json", "--workspace", str(read_only_folder)], capsys)
    assert code == 0 and json.loads(out)["datasets"] == []
