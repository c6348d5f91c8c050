"""Training settings (tlcore.train.config): the dict round trip and checks that name the bad setting."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest

from tests.conftest import ROOT, tiny_config
from tlcore.data.augment import AugmentConfig
from tlcore.train.config import config_from_dict, config_to_dict, wants_pretrained
from tlcore.train.strategies import StrategyConfig


def test_config_round_trips_through_a_dict():
    cfg = tiny_config("gradual", augment=AugmentConfig(vflip=True, rotation=5))
    assert config_from_dict(config_to_dict(cfg)) == cfg


def test_bad_settings_are_named():
    from tlcore.errors import TlcoreError

    with pytest.raises(TlcoreError, match="epochs"):
        tiny_config(epochs=0).check()
    with pytest.raises(TlcoreError, match="unknown TrainConfig setting"):
        config_from_dict({"epoch": 3})


def test_pretrained_weights_are_wanted_except_from_scratch_or_on_random_init_only_backbones():
    lite = replace(tiny_config(), backbone="efficientnet_lite0")
    assert wants_pretrained(lite)
    assert not wants_pretrained(replace(lite, strategy=StrategyConfig(name="scratch")))
    assert not wants_pretrained(tiny_config())  # the tiny test backbones are registered random-init only


@pytest.mark.slow
def test_the_config_and_strategy_modules_import_no_torch():
    code = ("import sys, tlcore.train.config, tlcore.train.strategies, tlcore.train.results; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"
