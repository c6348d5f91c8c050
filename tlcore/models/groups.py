"""Block groups and stages: a backbone's parameters split into units of freezing, and its forward cut to match.

Groups come from timm's ``group_matcher`` where there is one, else from the model's top-level structure; every
parameter is in exactly one group, stem first. For the sequential families named in :func:`execution_units` the
forward is also cut into one runnable stage per group, so a frozen prefix can be computed once and cached.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import timm.models
from timm.models.efficientnet import EfficientNet as TimmEfficientNet
from timm.models.mobilenetv3 import MobileNetV3 as TimmMobileNetV3
from timm.models.resnet import ResNet as TimmResNet
from torch import nn
from torchvision import models as tv_models

from tlcore.models.layers import GlobalAvgPool2d

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BlockGroup:
    """A unit of freezing: consecutive parameters of the backbone (names relative to ``Backbone.model``)."""

    name: str
    param_names: tuple[str, ...]


# ---------------------------------------------------------------------------------------------------------- groups


def group_name(model: nn.Module, param_names: tuple[str, ...]) -> str:
    """Readable name from top-level modules: ``conv1+bn1``, ``layer1``, ``blocks.6+conv_head+bn2``."""
    units: dict[str, None] = {}  # ordered set
    for p in param_names:
        top, _, rest = p.partition(".")
        child = getattr(model, top) if rest else None
        if isinstance(child, (nn.Sequential, nn.ModuleList)):
            units[f"{top}.{rest.partition('.')[0]}"] = None
        else:
            units[top] = None
    names: list[str] = []
    for unit in units:  # a container whose children are all in this group is named as a whole
        top, _, index = unit.partition(".")
        if index and all(f"{top}.{i}" in units for i, c in getattr(model, top).named_children()
                         if any(True for _ in c.parameters())):
            if top not in names:
                names.append(top)
        else:
            names.append(unit)
    return "+".join(names)


def make_groups(model: nn.Module, ordered: list[list[str]]) -> list[BlockGroup]:
    """Named groups from ordered lists of parameter names (empty lists dropped).

    Raises:
        RuntimeError: the groups do not cover every parameter of ``model``.
    """
    groups = [BlockGroup(group_name(model, tuple(names)), tuple(names)) for names in ordered if names]
    covered = sum(len(g.param_names) for g in groups)
    total = len(list(model.parameters()))
    if covered != total:  # a grouping bug would silently leave parameters out of freezing: refuse
        raise RuntimeError(f"block groups cover {covered} of {total} parameters of {type(model).__name__}")
    return groups


def timm_groups(model: nn.Module) -> list[BlockGroup]:
    """Coarse block groups from timm's own ``group_matcher`` (stem, blocks/stages ...)."""
    try:
        matcher = model.group_matcher(coarse=True)
    except (AttributeError, NotImplementedError):
        log.info("%s has no group_matcher; grouping by top-level modules", type(model).__name__)
        return structural_groups(model)
    mapping = timm.models.group_parameters(model, matcher)
    return make_groups(model, [mapping[k] for k in sorted(mapping)])


def structural_groups(model: nn.Module) -> list[BlockGroup]:
    """Block groups from top-level structure: resnet stem + layer1..4; else top-level children, with Sequential /
    ModuleList children (``features.i``) split one level down. Used for torchvision models."""
    names = [n for n, _ in model.named_parameters()]

    def under(prefix: str) -> list[str]:
        return [n for n in names if n.startswith(prefix + ".")]

    ordered: list[list[str]] = []
    if all(hasattr(model, a) for a in ("conv1", "bn1", "layer1", "layer4")):
        ordered.append(under("conv1") + under("bn1"))
        ordered += [under(f"layer{i}") for i in range(1, 5)]
        ordered.append([n for n in names if not any(n in g for g in ordered)])  # anything after layer4
        return make_groups(model, ordered)
    ordered.append([n for n in names if "." not in n])  # parameters owned by the root (class tokens ...)
    for child_name, child in model.named_children():
        if isinstance(child, (nn.Sequential, nn.ModuleList)):
            ordered += [under(f"{child_name}.{sub}") for sub, _ in child.named_children()]
        else:
            ordered.append(under(child_name))
    return make_groups(model, ordered)


# ---------------------------------------------------------------------------------------------------------- stages


def execution_units(model: nn.Module) -> list[tuple[str | None, nn.Module]] | None:
    """The model's forward as an ordered list of (module path or None, module), for known sequential families.

    timm models here have ``drop_rate`` 0 (set by :func:`tlcore.models.timm_family.prepare_timm`), so their
    functional dropout is a no-op.
    """
    def named(*paths: str) -> list[tuple[str | None, nn.Module]]:
        return [(p, model.get_submodule(p)) for p in paths]

    kind = type(model)
    if kind is TimmEfficientNet:
        blocks = [f"blocks.{i}" for i in range(len(model.blocks))]
        return named("conv_stem", "bn1", *blocks, "conv_head", "bn2", "global_pool", "classifier")
    if kind is TimmMobileNetV3:
        blocks = [f"blocks.{i}" for i in range(len(model.blocks))]
        return named("conv_stem", "bn1", *blocks, "global_pool", "conv_head", "norm_head", "act2", "flatten",
                     "classifier")
    if kind is TimmResNet:
        return named("conv1", "bn1", "act1", "maxpool", "layer1", "layer2", "layer3", "layer4", "global_pool", "fc")
    if kind is tv_models.ResNet:
        return (named("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool")
                + [(None, nn.Flatten(1))] + named("fc"))
    if kind in (tv_models.MobileNetV3, tv_models.EfficientNet):
        features = [f"features.{i}" for i in range(len(model.features))]
        return named(*features, "avgpool") + [(None, nn.Flatten(1))] + named("classifier")
    if kind is tv_models.ConvNeXt:  # its classifier (LayerNorm2d, Flatten, Identity) flattens
        return named(*[f"features.{i}" for i in range(len(model.features))], "avgpool", "classifier")
    if kind is tv_models.MobileNetV2:
        features = [f"features.{i}" for i in range(len(model.features))]
        return named(*features) + [(None, GlobalAvgPool2d()), (None, nn.Flatten(1))] + named("classifier")
    return None


def build_stages(model: nn.Module, groups: list[BlockGroup]) -> list[nn.Module] | None:
    """Cut the forward into one stage per block group; modules without parameters join the stage before them.

    Returns None for a model whose forward is not a known sequence or does not line up with ``groups``.
    """
    units = execution_units(model)
    if units is None:
        return None
    group_of = {p: i for i, g in enumerate(groups) for p in g.param_names}
    stage_modules: list[list[nn.Module]] = []
    stage_groups: list[int] = []
    pending: list[nn.Module] = []  # parameter-free modules before the first stage
    for path, module in units:
        params = [f"{path}.{n}" for n, _ in module.named_parameters()] if path is not None else []
        owners = {group_of.get(p) for p in params}
        if len(owners) > 1 or None in owners:
            log.debug("Module %s spans several block groups; no stages for %s", path, type(model).__name__)
            return None
        if not owners:
            (stage_modules[-1] if stage_modules else pending).append(module)
            continue
        (owner,) = owners
        if stage_groups and stage_groups[-1] == owner:
            stage_modules[-1].append(module)
        else:
            stage_groups.append(owner)
            stage_modules.append(pending + [module])
            pending = []
    if stage_groups != list(range(len(groups))):
        log.debug("Stages %s do not line up with %d groups for %s", stage_groups, len(groups), type(model).__name__)
        return None
    return [nn.Sequential(*mods) for mods in stage_modules]
