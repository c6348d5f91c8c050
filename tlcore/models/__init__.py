"""Models: the backbone catalogue and factory, block groups, the transfer model, weights files and inference.

``registry`` (names, catalogue, plugin rows; torch-free) -> ``factory.create_backbone`` (through the family
adapters ``efficientnet_lite``, ``timm_family``, ``torchvision_family`` and ``groups``) -> ``transfer.TransferModel``.
"""
