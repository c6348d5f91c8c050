"""The workspace folder (tlcore.workspace): made on demand, opened without making anything, bad places refused."""

from __future__ import annotations

import pickle

import pytest

from tlcore.workspace import ENV_VAR, Workspace, WorkspaceError, default_workspace, workspace_path

FOLDERS = ["cache", "datasets", "images", "jobs", "runs", "tmp", "uploads"]


def test_a_workspace_makes_its_folders(tmp_path):
    ws = Workspace(tmp_path / "a" / "ws")
    assert sorted(p.name for p in ws.root.iterdir()) == FOLDERS and ws.exists()
    ws.check_writable()
    assert sorted(p.name for p in ws.tmp.iterdir()) == []  # the write check leaves nothing behind


def test_opening_without_create_makes_nothing_and_names_the_same_paths(tmp_path):
    ws = Workspace.open(tmp_path / "a" / "ws")
    assert not ws.exists() and not (tmp_path / "a").exists()
    assert ws == Workspace(tmp_path / "a" / "ws", create=False) == default_workspace(tmp_path / "a" / "ws", create=False)
    assert ws.runs == tmp_path / "a" / "ws" / "runs" and not (tmp_path / "a").exists()
    made = Workspace(tmp_path / "a" / "ws")
    assert made == ws and hash(made) == hash(ws) and pickle.loads(pickle.dumps(made)) == made


def test_a_file_is_not_a_workspace(tmp_path):
    file = tmp_path / "notes.txt"
    file.write_text("x")
    for create in (True, False):
        with pytest.raises(WorkspaceError, match=f"{file}: is a file"):
            Workspace(file, create=create)
    with pytest.raises(WorkspaceError, match="cannot create the workspace folder"):
        Workspace(file / "ws")
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "runs").write_text("x")
    with pytest.raises(WorkspaceError, match=f"{tmp_path / 'ws' / 'runs'}: is a file"):
        Workspace(tmp_path / "ws")


def test_an_empty_path_is_refused_and_creates_nothing_in_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for empty in ("", "  "):
        with pytest.raises(WorkspaceError, match="empty"):
            Workspace(empty)
        with pytest.raises(WorkspaceError, match="--workspace is empty"):
            default_workspace(empty)
    monkeypatch.setenv(ENV_VAR, "")
    with pytest.raises(WorkspaceError, match=f"{ENV_VAR} is set but empty"):
        default_workspace()
    assert list(tmp_path.iterdir()) == []


def test_the_path_comes_from_the_argument_then_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    assert workspace_path() == tmp_path / "env"
    assert workspace_path(tmp_path / "arg") == tmp_path / "arg"
    assert not (tmp_path / "env").exists()


@pytest.mark.parametrize("read_only_folder", ["made"], indirect=True)  # its workspace folders exist
def test_a_read_only_workspace_is_named_by_the_write_check(read_only_folder):
    read_only_workspace = read_only_folder
    ws = Workspace(read_only_workspace)  # its folders exist: opening it works, and reading it does
    with pytest.raises(WorkspaceError, match=f"{read_only_workspace}: the workspace folder is not writable"):
        ws.check_writable()
    with pytest.raises(WorkspaceError, match="cannot create"):
        Workspace(read_only_workspace / "inner")
