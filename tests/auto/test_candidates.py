"""Candidates: names, the order they are tried in, and the training settings of the trained kinds."""

from __future__ import annotations

import pytest

from tlcore.auto.candidates import Candidate, FINE_TUNE_RATIO, candidate_from_name, candidates, train_config
from tlcore.auto.config import AutoConfig, auto_from_dict, auto_to_dict
from tlcore.errors import TlcoreError
from tlcore.models.registry import PIXELS_BACKBONE
from tlcore.train.config import TrainConfig
from tlcore.train.strategies import SettingError


def test_every_candidate_name_reads_back_as_the_same_candidate():
    for c in candidates(TrainConfig(), AutoConfig()):
        assert candidate_from_name(c.name) == c


@pytest.mark.parametrize("bad", ["", "probe", "probe:", "fine-tune:x", "fine-tune-x:y", "head:x+sideways", "zzz:x"])
def test_names_that_are_not_candidates_are_refused(bad):
    with pytest.raises(ValueError):
        candidate_from_name(bad)


def test_cheap_candidates_come_first_and_kinds_and_augments_filter():
    names = [c.name for c in candidates(TrainConfig(), AutoConfig())]
    assert names[:5] == ["pixels", "probe:efficientnet_lite0", "head:efficientnet_lite0",
                         "fine-tune-1:efficientnet_lite0", "fine-tune-2:efficientnet_lite0"]
    assert names.index("probe:efficientnet_lite1") < names.index("head:efficientnet_lite0+default")
    assert names[-1].startswith("scratch:")
    only_cheap = candidates(TrainConfig(), AutoConfig(kinds=("pixels", "probe"), backbones=("efficientnet_lite0",)))
    assert [c.name for c in only_cheap] == ["pixels", "probe:efficientnet_lite0"]
    no_plain = candidates(TrainConfig(), AutoConfig(kinds=("head",), augments=("no-flips",)))
    assert [c.name for c in no_plain] == ["head:efficientnet_lite0+no-flips"]
    assert [c.name for c in candidates(TrainConfig(), AutoConfig(only="pixels"))] == ["pixels"]


def test_a_fine_tune_candidate_trains_its_groups_at_the_found_rate_with_its_augmentation():
    base = TrainConfig(seed=7, batch_size=16)
    c = Candidate("fine-tune", "efficientnet_lite0", 2, "no-flips")
    config = train_config(c, base, AutoConfig(max_epochs=6, aug_views=3), head_lr=4e-4)
    assert config.strategy.name == "fine-tune" and config.strategy.fine_tune_groups == 2
    assert config.strategy.head_lr == 4e-4 and config.strategy.backbone_lr_ratio == FINE_TUNE_RATIO
    assert config.epochs == 6 and config.aug_views == 3 and config.seed == 7 and config.batch_size == 16
    assert config.augment.enabled and not config.augment.hflip
    head = train_config(Candidate("head", "efficientnet_lite0"), base, AutoConfig())
    assert head.strategy.name == "feature-extraction" and head.strategy.head == "mlp"
    assert not head.augment.enabled
    with pytest.raises(ValueError):
        train_config(Candidate("pixels", PIXELS_BACKBONE), base, AutoConfig())


def test_auto_settings_round_trip_and_bad_ones_are_named():
    config = AutoConfig(budget=60, folds=3, kinds=("pixels",))
    assert auto_from_dict(auto_to_dict(config)) == config
    with pytest.raises(SettingError, match="auto.budget"):
        AutoConfig(budget=0).check()
    with pytest.raises(SettingError, match="auto.folds"):
        AutoConfig(folds=1).check()
    with pytest.raises(SettingError, match="auto.kinds"):
        AutoConfig(kinds=("magic",)).check()
    with pytest.raises(TlcoreError, match="unknown AutoConfig setting"):
        auto_from_dict({"budgie": 3})
