"""What the CLI's commands share (tlcore.cli.common): numeric options refused by name with exit code 2, and text
output that cannot steer the terminal."""

from __future__ import annotations

import json

import pytest

from tlcore.cli.main import main
from tlcore.events import Message

TRAIN = ["train", "--dataset", "0123456789abcdef"]
CV = ["cv", "--dataset", "0123456789abcdef"]
COMPARE = ["compare", "--dataset", "0123456789abcdef"]
CURVE = ["curve", "--dataset", "0123456789abcdef"]
EXPLAIN = ["explain", "--run", "r", "--method", "gradcam", "--out", "o", "image.png"]
TRAINING_COMMANDS = (TRAIN, CV, COMPARE, CURVE)

# (option, bad value, words the message must hold): every numeric option of train, cv, compare and curve
TRAIN_OPTIONS = [
    ("--dropout", "2", "[0, 1)"), ("--dropout", "nan", "[0, 1)"), ("--dropout", "-0.1", "[0, 1)"),
    ("--lr", "nan", "(0, 10]"), ("--lr", "inf", "(0, 10]"), ("--lr", "0", "(0, 10]"), ("--lr", "-1e-3", "(0, 10]"),
    ("--backbone-lr-ratio", "5", "(0, 1]"), ("--backbone-lr-ratio", "0", "(0, 1]"),
    ("--lr-decay", "0", "(0, 1]"), ("--lr-decay", "-inf", "(0, 1]"),
    ("--image-size", "1", "[16, 4096]"), ("--image-size", "0", "[16, 4096]"), ("--image-size", "100000", "[16, 4096]"),
    ("--epochs", "0", "[1, "), ("--epochs", "-3", "[1, "),
    ("--seed", "-1", "[0, "),
    ("--fine-tune-groups", "-1", "at least 0"), ("--unfreeze-every", "0", "at least 1"),
    ("--hidden", "0", "[1, 65536]"),
    ("--batch-size", "1", "[2, "), ("--batch-size", "0", "[2, "),
    ("--weight-decay", "-1", "[0, 10]"), ("--weight-decay", "nan", "[0, 10]"),
    ("--label-smoothing", "1", "[0, 1)"), ("--label-smoothing", "inf", "[0, 1)"),
    ("--patience", "-1", "at least 0"),
    ("--val-fraction", "1", "[0, 1)"), ("--val-fraction", "nan", "[0, 1)"), ("--test-fraction", "-0.1", "[0, 1)"),
    ("--rotation", "nan", "[0, 180]"), ("--rotation", "-5", "[0, 180]"),
    ("--scale-min", "0", "(0, 1]"), ("--scale-min", "1.5", "(0, 1]"),
    ("--color", "-1", "[0, 1]"), ("--color", "inf", "[0, 1]"),
    ("--aug-views", "0", "[1, 64]"),
    ("--epochs", "two", "not a whole number"), ("--lr", "fast", "not a number"),
]
EVALUATION_OPTIONS = [
    (CV, "--folds", "1", "at least 2"), (COMPARE, "--folds", "0", "at least 2"), (CURVE, "--folds", "-2", "at least 2"),
    (COMPARE, "--scratch-epochs", "0", "[1, "), (CURVE, "--scratch-image-size", "8", "[16, 4096]"),
    (CURVE, "--fractions", "0,0.5", "(0, 1]"), (CURVE, "--fractions", "0.5,nan", "(0, 1]"),
    (CURVE, "--fractions", "2", "(0, 1]"), (CURVE, "--fractions", "a,b", "numbers"),
    (CURVE, "--fractions", ",", "at least one"),
]
OTHER_OPTIONS = [
    (EXPLAIN, "--opacity", "nan", "[0, 1]"), (EXPLAIN, "--opacity", "1.5", "[0, 1]"),
    (EXPLAIN, "--steps", "0", "[1, 256]"), (EXPLAIN, "--samples", "-1", "[1, 64]"),
    (EXPLAIN, "--window", "0", "[1, "), (EXPLAIN, "--stride", "0", "[1, "),
    (["report", "--run", "r", "--out", "r.html"], "--per-group", "-1", "at least 0"),
    (["report", "--run", "r", "--out", "r.html"], "--sanity-images", "-1", "at least 0"),
    (["predict", "--run", "r", "image.png"], "--top-k", "0", "at least 1"),
]


def _usage_error(argv: list[str], capsys) -> str:
    """Run the CLI in-process; assert it refused the command line with exit code 2; return stderr."""
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    assert code == 2, (code, captured.out, captured.err)
    assert "Traceback" not in captured.err
    return captured.err


@pytest.mark.parametrize("command", TRAINING_COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize("option, value, words", TRAIN_OPTIONS, ids=lambda x: str(x))
def test_an_out_of_range_training_option_is_a_usage_error_naming_it(command, option, value, words, tmp_path,
                                                                    capsys):
    ws = tmp_path / "ws"
    err = _usage_error([*command, f"{option}={value}", "--workspace", str(ws)], capsys)
    assert option in err and words in err
    assert not ws.exists()  # refused before anything is created


def test_fine_tune_with_a_backbone_rate_above_the_heads_is_refused(tmp_path, capsys):
    err = _usage_error([*TRAIN, "--strategy", "fine-tune", "--backbone-lr-ratio", "5",
                        "--workspace", str(tmp_path / "ws")], capsys)
    assert "--backbone-lr-ratio: must be in (0, 1]" in err


@pytest.mark.parametrize("command, option, value, words", EVALUATION_OPTIONS + OTHER_OPTIONS,
                         ids=lambda x: x[0] if isinstance(x, list) else str(x))
def test_an_out_of_range_option_of_the_other_commands_is_a_usage_error_naming_it(command, option, value, words,
                                                                                 tmp_path, capsys):
    ws = tmp_path / "ws"
    err = _usage_error([*command, f"{option}={value}", "--workspace", str(ws)], capsys)
    assert option in err and words in err
    assert not ws.exists()


def test_validation_and_test_fractions_that_leave_nothing_to_train_on_are_refused(tmp_path, capsys):
    ws = tmp_path / "ws"
    err = _usage_error([*TRAIN, "--val-fraction", "0.6", "--test-fraction", "0.4", "--workspace", str(ws)], capsys)
    assert "--val-fraction" in err and "--test-fraction" in err and "below 1" in err
    err = _usage_error([*CV, "--val-fraction", "0.9", "--json", "--workspace", str(ws)], capsys)
    assert "--val-fraction" in err and not ws.exists()


def test_the_settings_are_refused_by_the_config_too(tmp_path):
    """The app and jobs build TrainConfig themselves: its check names the setting."""
    from dataclasses import replace

    from tlcore.errors import TlcoreError
    from tlcore.train.config import TrainConfig
    from tlcore.train.strategies import StrategyConfig

    with pytest.raises(TlcoreError, match="image_size"):
        replace(TrainConfig(), image_size=1).check()
    with pytest.raises(TlcoreError, match="dropout"):
        StrategyConfig(dropout=2)
    with pytest.raises(ValueError, match="head_lr"):
        StrategyConfig(head_lr=float("nan"))


# Text output: control characters are shown escaped, never sent to the terminal

HOSTILE = "\x1b]0;owned\x07\x1b[2J\u202egnp.\x9b"


def test_progress_messages_are_escaped(capsys):
    from tlcore.cli.common import StderrProgress

    StderrProgress()(Message(text=f"skipped {HOSTILE}", level="warning"))
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\u202e" not in err and "\x9b" not in err and "\\x1b]0;owned" in err


def test_an_error_naming_a_hostile_path_is_escaped_in_text_and_json(tmp_path, capsys):
    path = str(tmp_path / f"{HOSTILE}.zip")
    assert main(["import", path, "--workspace", str(tmp_path / "ws")]) == 1
    err = capsys.readouterr().err
    assert "no such file or folder" in err and "\x1b" not in err and "\u202e" not in err and "\\x1b[2J" in err
    assert main(["import", path, "--json", "--workspace", str(tmp_path / "ws")]) == 1
    out = capsys.readouterr().out
    assert "\u202e" not in out and "\x9b" not in out and "\x1b" not in out
    assert HOSTILE in json.loads(out)["error"]  # the JSON value itself is unchanged


def test_json_output_survives_an_undecodable_file_name(tmp_path, capsys):
    """A file name that is not UTF-8 arrives as lone surrogates: printing them raw would crash."""
    path = str(tmp_path / "bad\udcff.png")
    assert main(["import", path, "--json", "--workspace", str(tmp_path / "ws")]) == 1
    out = capsys.readouterr().out
    out.encode("utf-8")
    assert json.loads(out)["error"].startswith(path)
    assert main(["import", path, "--workspace", str(tmp_path / "ws")]) == 1
    assert "bad\\xff.png" in capsys.readouterr().err
