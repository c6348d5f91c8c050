"""Test plugin: the tiny timm test backbones (random weights), registered for every process of a test session.

Imported by ``tlcore.runtime.setup()`` through ``TLCORE_PLUGINS`` (``tests/conftest.py`` sets it), so job workers,
CLI runs and the app's server offer them too. It stays torch-free: the input sizes and parameter counts are timm's
(``tests/models/test_registry.py`` checks them against timm), written out so that set-up never loads torch.
"""

from __future__ import annotations

from tlcore.models.registry import BackboneSpec, register_backbone

# timm architecture -> (input size, parameters without classifier)
TINY_ARCHS = {
    "test_efficientnet": (160, 99_196),
    "test_resnet": (160, 372_688),
    "test_vit": (160, 306_240),
}

for _arch, (_size, _params) in TINY_ARCHS.items():
    # offline: the engine trains these with random weights (random_init), nothing to download
    register_backbone(BackboneSpec(f"timm/{_arch}", f"{_arch} (tiny, random weights: tests only)", "timm", True,
                                   _size, _params), random_init=True)
