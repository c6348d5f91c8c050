"""``python -m tlcore runs | show | delete``: text output that cannot steer the terminal."""

from __future__ import annotations

import json
import time

from tlcore.cli.main import main

HOSTILE = "\x1b]0;owned\x07\x1b[2J\u202e\x9b"


def test_runs_and_show_escape_hostile_names_in_the_record(ws, dataset, capsys):
    from tlcore.runs.records import write_run

    run_id = write_run(ws, {"id": "20260101-000000-abcdef", "created": time.time(), "kind": "train",
                            "dataset_id": dataset.id, "backbone": f"timm/{HOSTILE}", "strategy": "feature-extraction",
                            "label": HOSTILE, "test_metrics": {"accuracy": 0.5}, "timings": {"total": 1.0}})
    for argv in (["runs"], ["show", "--run", run_id]):
        assert main([*argv, "--workspace", str(ws.root)]) == 0
        captured = capsys.readouterr()
        text = captured.out + captured.err
        assert run_id in text and "\\x1b]0;owned\\x07" in text
        assert not any(c in text for c in ("\x1b", "\x07", "\u202e", "\x9b")), text
    assert main(["show", "--run", run_id, "--json", "--workspace", str(ws.root)]) == 0
    out = capsys.readouterr().out
    assert "\u202e" not in out and "\x9b" not in out and json.loads(out)["label"] == HOSTILE
